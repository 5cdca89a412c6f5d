"""What runs on its own, apart from the dataset sensor (which watches data/ and lives with
ingest): the nightly refresh of everything computed over all datasets."""

import dagster as dg

from facesym_pipeline.defs.jobs import warehouse_job

# Datasets arrive through the sensor at any time; the cross-dataset assets (healthy ranges,
# the classifier, exports, the catalog) are refreshed once a night from whatever is there.
nightly_models = dg.ScheduleDefinition(
    name="nightly_models",
    job=warehouse_job,
    cron_schedule="0 3 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Retrain the classifier and refresh healthy ranges, exports and the catalog.",
)
