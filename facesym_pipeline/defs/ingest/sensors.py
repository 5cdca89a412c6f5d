import dagster as dg

from facesym_pipeline.defs.ingest.fingerprints import recorded_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.media.dataset_watch import current_fingerprints, plan


# Named rather than imported: the job selects assets of every domain, above this one.
@dg.sensor(
    job_name="dataset_job",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def dataset_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Registers each new dataset folder under data/ as a partition and runs it; re-runs a
    known dataset when its files' content changes."""
    from pathlib import Path

    current, invalid = current_fingerprints(Path(warehouse.data_dir), warehouse.hash_cache())
    known = set(context.instance.get_dynamic_partitions(dataset_partitions.name))
    decided = plan(context.cursor, current, known, invalid)
    runs = []
    for key in decided.new + decided.changed:
        # Already materialised from exactly this content (e.g. by `facesym run`): no run.
        if (
            key in decided.changed
            and recorded_metadata(context.instance, "media_inventory", key, "dataset_fingerprint")
            == current[key]
        ):
            continue
        runs.append(dg.RunRequest(partition_key=key, run_key=f"{key}:{current[key][:16]}"))
    for rel in invalid:
        context.log.warning(f"data/{rel}: folder name gives no valid dataset key; skipped")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=(
            [dataset_partitions.build_add_request(decided.new)] if decided.new else []
        ),
        cursor=decided.cursor(),
    )
