"""The one Dagster `Definitions` of the project."""

import dagster as dg

from facesym_pipeline.defs.ingest import checks as ingest_checks
from facesym_pipeline.defs.ingest.sensors import dataset_sensor
from facesym_pipeline.defs.jobs import (
    DEEP_MODEL_ASSETS,
    PARTITIONED_ASSETS,
    dataset_job,
    deep_models_job,
    warehouse_job,
)
from facesym_pipeline.defs.landmarks.resources import LandmarkerResource
from facesym_pipeline.defs.models import checks as model_checks
from facesym_pipeline.defs.models.assets import asymmetry_classifier
from facesym_pipeline.defs.models.schedules import nightly_models
from facesym_pipeline.defs.quality import checks as quality_checks
from facesym_pipeline.defs.temporal.assets import healthy_ranges, sequence_model
from facesym_pipeline.defs.warehouse.assets import (
    feature_dictionary,
    feature_exports,
    warehouse_catalog,
)
from facesym_pipeline.defs.warehouse.resources import WarehouseResource

UNPARTITIONED_ASSETS = [
    healthy_ranges,
    sequence_model,
    asymmetry_classifier,
    feature_dictionary,
    feature_exports,
    warehouse_catalog,
]

defs = dg.Definitions(
    assets=[*PARTITIONED_ASSETS, *UNPARTITIONED_ASSETS, *DEEP_MODEL_ASSETS],
    asset_checks=dg.load_asset_checks_from_modules([ingest_checks, quality_checks, model_checks]),
    jobs=[dataset_job, warehouse_job, deep_models_job],
    sensors=[dataset_sensor],
    schedules=[nightly_models],
    resources={"warehouse": WarehouseResource(), "landmarker": LandmarkerResource()},
)
