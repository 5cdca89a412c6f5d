"""The one Dagster `Definitions` of the project."""

import dagster as dg

from facesym_pipeline.defs.ingest import checks as ingest_checks
from facesym_pipeline.defs.ingest.sensors import dataset_sensor
from facesym_pipeline.defs.jobs import PARTITIONED_ASSETS, dataset_job, warehouse_job
from facesym_pipeline.defs.landmarks.resources import LandmarkerResource
from facesym_pipeline.defs.quality import checks as quality_checks
from facesym_pipeline.defs.warehouse.assets import warehouse_catalog
from facesym_pipeline.defs.warehouse.resources import WarehouseResource

UNPARTITIONED_ASSETS = [warehouse_catalog]

defs = dg.Definitions(
    assets=[*PARTITIONED_ASSETS, *UNPARTITIONED_ASSETS],
    asset_checks=dg.load_asset_checks_from_modules([ingest_checks, quality_checks]),
    jobs=[dataset_job, warehouse_job],
    sensors=[dataset_sensor],
    resources={"warehouse": WarehouseResource(), "landmarker": LandmarkerResource()},
)
