import warnings

import dagster as dg

from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.media.dataset_watch import current_fingerprints
from facesym_pipeline.lib.media.inventory import (
    rejection_counts,
    scan_dataset,
    usable_media_count,
)


def _dataset_fingerprints(context, warehouse: WarehouseResource):
    current, _ = current_fingerprints(warehouse.data_path, warehouse.hash_cache())
    registered = context.instance.get_dynamic_partitions(dataset_partitions.name)
    yield dg.DataVersionsByPartition({k: v for k, v in current.items() if k in registered})


with warnings.catch_warnings():
    # Partitioned observable sources are marked beta; the behaviour used here is stable.
    warnings.simplefilter("ignore", dg.BetaWarning)
    dataset_files = dg.multi_observable_source_asset(
        # The spec stays inside the call: a module-level spec is an asset of its own.
        specs=[
            dg.AssetSpec(
                "dataset_files",
                partitions_def=dataset_partitions,
                group_name="ingest",
                description="The files of a dataset folder under data/, versioned by a fingerprint of "
                "their content: a new fingerprint makes what is computed from the dataset stale. "
                "Observed by the dataset sensor and by `facesym run`.",
            )
        ]
    )(_dataset_fingerprints)


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[dataset_files],
    group_name="ingest",
    kinds={"parquet", "polars"},
)
def media_inventory(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every file in the dataset folder: content hash, kind, label, media properties, and
    whether it can be analysed (`ok`) or was `rejected` with a reason."""
    key = context.partition_key
    inventory = scan_dataset(key, warehouse.dataset_folder(key), warehouse.hash_cache())
    path = warehouse.lake.write("media_inventory", key, inventory)
    counts = rejection_counts(inventory)
    return dg.MaterializeResult(
        metadata=table_metadata(
            inventory,
            path,
            counts,
            usable_media=usable_media_count(inventory),
        )
    )
