"""The project's jobs and the asset lists they select: one dataset partition, the image
models and shortcut audit, and everything computed over all datasets."""

import dagster as dg

from facesym_pipeline.defs.deep_models.assets import (
    full_face_cnn,
    region_cnn,
    region_crops,
    shortcut_audit,
)
from facesym_pipeline.defs.features.assets import (
    functional_features,
    measurement_calibration,
    media_features,
    symmetry_features,
)
from facesym_pipeline.defs.frames.assets import sampled_frames
from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.temporal.assets import temporal_series, temporal_trends

# From files to per-media features: everything that depends on one dataset alone.
DATASET_ASSETS = [
    media_inventory,
    sampled_frames,
    face_landmarks,
    frame_quality,
    symmetry_features,
    functional_features,
    media_features,
    measurement_calibration,
    region_crops,
]
# Video trends: per dataset, but judged against the healthy ranges of all datasets.
TREND_ASSETS = [temporal_series, temporal_trends]
PARTITIONED_ASSETS = DATASET_ASSETS + TREND_ASSETS

# Partitioned by `dataset`, which Dagster infers from the selected assets.
dataset_job = dg.define_asset_job(
    "dataset_job",
    selection=dg.AssetSelection.assets(*PARTITIONED_ASSETS),
    description="Materialise every asset of one dataset partition, and their checks.",
)

# Image models and the shortcut audit on one labelled dataset (asset config).
DEEP_MODEL_ASSETS = [full_face_cnn, region_cnn, shortcut_audit]
deep_models_job = dg.define_asset_job(
    "deep_models_job",
    selection=dg.AssetSelection.assets(*DEEP_MODEL_ASSETS),
    description="Train the full-face and region CNNs and audit every model for shortcuts.",
)

# Unpartitioned assets over all datasets: healthy ranges, models, exports and the catalog.
warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.groups("warehouse", "models", "normative"),
    description="Refresh healthy ranges, models, exports and the DuckDB catalog.",
)
