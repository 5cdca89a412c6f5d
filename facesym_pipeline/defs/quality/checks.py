import dagster as dg
import numpy as np
import polars as pl

from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.face.landmark_table import landmark_arrays


class PassRateCheckConfig(dg.Config):
    min_pass_rate: float = 0.5


@dg.asset_check(asset=face_landmarks, blocking=True, partitions_def=dataset_partitions)
def landmarks_complete_and_finite(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Every frame with a face has 478 landmarks with finite coordinates."""
    table = warehouse.lake.read("face_landmarks", context.partition_key)
    faces = table.filter(pl.col("status") == "ok")
    points = landmark_arrays(faces)["landmarks"] if faces.height else np.zeros((0, 478, 3))
    bad_frames = int((~np.isfinite(points).all(axis=(1, 2))).sum())
    return dg.AssetCheckResult(
        passed=points.shape[1] == 478 and bad_frames == 0,
        metadata={"frames_with_face": faces.height, "non_finite_frames": bad_frames},
    )


@dg.asset_check(asset=frame_quality, partitions_def=dataset_partitions)
def quality_pass_rate(
    context: dg.AssetCheckExecutionContext,
    config: PassRateCheckConfig,
    warehouse: WarehouseResource,
) -> dg.AssetCheckResult:
    """Warns when fewer frames than the floor pass the quality judge."""
    quality = warehouse.lake.read("frame_quality", context.partition_key)
    rate = float(quality["passed"].mean()) if quality.height else 0.0
    return dg.AssetCheckResult(
        passed=rate >= config.min_pass_rate,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"pass_rate": round(rate, 4), "floor": config.min_pass_rate},
    )
