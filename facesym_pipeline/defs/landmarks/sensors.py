import time

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from facesym_pipeline.defs.landmarks.resources import run_and_ancestors
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.store.step_objects import RETENTION_ENV, retention_s, sweep


@dg.sensor(minimum_interval_seconds=3600, default_status=dg.DefaultSensorStatus.RUNNING)
def step_tables_sweep(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    """Removes the step tables (`_steps/<run_id>/` in the lake) that failed or cancelled
    runs left, once nothing has been written there for FACESYM_STEP_TABLES_RETENTION_H
    hours (a week); until then a re-execution from the failure reads them."""
    unfinished = context.instance.get_runs(dg.RunsFilter(statuses=NOT_FINISHED_STATUSES))
    protected = {a for run in unfinished for a in run_and_ancestors(context.instance, run.run_id)}
    removed = sweep(warehouse.lake.store, protected, time.time(), retention_s())
    if not removed:
        return dg.SkipReason(f"no step tables older than {RETENTION_ENV} outside running runs")
    objects, runs = sum(removed.values()), ", ".join(removed)
    context.log.info(f"removed {objects} step objects of {len(removed)} runs: {runs}")
    return dg.SkipReason(f"removed {objects} step objects of {len(removed)} finished runs")
