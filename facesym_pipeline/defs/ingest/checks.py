import dagster as dg

from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.media.accounting import unaccounted_files


@dg.asset_check(asset=media_inventory, blocking=True, partitions_def=dataset_partitions)
def every_file_accounted_for(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Each file on disk appears exactly once, as ok or rejected with a reason."""
    key = context.partition_key
    inventory = warehouse.lake.read("media_inventory", key)
    problems = unaccounted_files(warehouse.dataset_folder(key), inventory)
    return dg.AssetCheckResult(
        passed=not any(problems.values()),
        metadata={name: len(items) for name, items in problems.items()}
        | {"files_in_inventory": inventory.height},
        description="; ".join(f"{k}: {v[:5]}" for k, v in problems.items() if v) or None,
    )
