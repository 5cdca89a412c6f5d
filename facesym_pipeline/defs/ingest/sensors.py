import dagster as dg

from facesym_pipeline.defs.ingest.observe import invalid_folder_line, observations, watch
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource


@dg.sensor(minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING)
def dataset_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Registers each new dataset folder under data/ as a partition and records the content
    fingerprint of new and changed datasets; automation conditions do the rest."""
    data_dir = warehouse.data_path
    decided = watch(context.instance, data_dir, warehouse.hash_cache())
    if decided.invalid:
        context.log.warning(invalid_folder_line(decided.invalid))
    if not decided.to_observe:
        return dg.SkipReason("no new or changed dataset under data/")
    return dg.SensorResult(
        dynamic_partitions_requests=(
            [dataset_partitions.build_add_request(decided.new)] if decided.new else []
        ),
        asset_events=observations(decided),
    )
