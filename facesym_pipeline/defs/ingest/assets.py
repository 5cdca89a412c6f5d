import dagster as dg

from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.media.inventory import rejection_counts, scan_dataset
from facesym_pipeline.lib.store.fingerprints import dataset_fingerprint


@dg.asset(partitions_def=dataset_partitions, group_name="ingest", kinds={"parquet", "polars"})
def media_inventory(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every file in the dataset folder: content hash, kind, label, media properties, and
    whether it can be analysed (`ok`) or was `rejected` with a reason."""
    key = context.partition_key
    folder = warehouse.dataset_folder(key)
    cache = warehouse.hash_cache()
    inventory = scan_dataset(key, folder, cache)
    path = warehouse.lake.write("media_inventory", key, inventory)
    counts = rejection_counts(inventory)
    return dg.MaterializeResult(
        metadata=table_metadata(
            inventory,
            path,
            counts,
            dataset_fingerprint=dataset_fingerprint(folder, cache),
            usable_media=int((inventory["status"] == "ok").sum()),
        )
    )
