import dagster as dg

dataset_partitions = dg.DynamicPartitionsDefinition(name="dataset")
