"""The asset lists tests and the catalog share, and the one job kept for launching a
dataset by hand from the UI (automation conditions launch everything else)."""

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
]
# Video trends: per dataset, but judged against the healthy ranges of all datasets.
TREND_ASSETS = [temporal_series, temporal_trends]
# Image models and the shortcut audit: per labelled dataset.
DEEP_MODEL_ASSETS = [region_crops, full_face_cnn, region_cnn, shortcut_audit]
PARTITIONED_ASSETS = DATASET_ASSETS + TREND_ASSETS + DEEP_MODEL_ASSETS

dataset_job = dg.define_asset_job(
    "dataset_job",
    selection=dg.AssetSelection.assets(*DATASET_ASSETS, *TREND_ASSETS),
    description="Materialise one dataset partition from its files to its video trends, "
    "with its checks.",
)
