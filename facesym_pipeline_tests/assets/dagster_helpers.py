"""Running real Dagster materialisations against a temporary data/ and warehouse/."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from facesym_pipeline.defs.landmarks.resources import (
    LANDMARK_CHUNKS_IO_MANAGER,
    landmark_chunks_io_manager,
)
from facesym_pipeline.defs.resources import LandmarkerResource, WarehouseResource


def resources(data_dir: Path, warehouse_dir: Path, workers: int = 1) -> dict:
    return {
        "warehouse": WarehouseResource(data_dir=str(data_dir), warehouse_dir=str(warehouse_dir)),
        "landmarker": LandmarkerResource(workers=workers),
        # Tables between the landmark pass's steps, in the warehouse bound above.
        LANDMARK_CHUNKS_IO_MANAGER: landmark_chunks_io_manager,
    }


def materialize_partition(
    assets: list, key: str, data_dir: Path, warehouse_dir: Path, instance=None, **kwargs
) -> dg.ExecuteInProcessResult:
    instance = instance or dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("dataset", [key])
    return dg.materialize(
        assets,
        partition_key=key,
        instance=instance,
        resources=resources(data_dir, warehouse_dir, kwargs.pop("workers", 1)),
        **kwargs,
    )
