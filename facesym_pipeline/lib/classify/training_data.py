"""The table the asymmetry classifier learns from: one row per labelled media file, its
per-media measurements, and the group it must stay with in cross-validation."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.classify.grouping import frame_groups
from facesym_pipeline.lib.measure.functional import ASYM_COLUMNS, SCORE_COLUMNS
from facesym_pipeline.lib.measure.symmetry import MM_DIFF_COLUMNS, PROCRUSTES_COLUMNS

# Signed left-minus-right measures enter as magnitudes: a droop on either side is the
# same finding, and a linear model cannot learn |x| from x.
SIGNED_FEATURES: tuple[str, ...] = (
    MM_DIFF_COLUMNS + ("mouth_tilt_deg", "nasal_bridge_deviation_deg") + ASYM_COLUMNS
)
# Interpretable measures only: pose, scale and image metrics are left out on purpose,
# since a classifier that used them would learn how a dataset was photographed.
CLASSIFIER_FEATURES: tuple[str, ...] = (
    tuple(f"{name}_abs" for name in SIGNED_FEATURES) + PROCRUSTES_COLUMNS + SCORE_COLUMNS
)


def with_magnitudes(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds `<measure>_abs` for every signed measure present."""
    present = [c for c in SIGNED_FEATURES if c in frame.columns]
    return frame.with_columns(pl.col(c).abs().alias(f"{c}_abs") for c in present)


def training_frame(media_features: pl.DataFrame) -> pl.DataFrame:
    """Labelled rows with a `group` column (subject, else near-duplicate image cluster),
    sorted so training is deterministic whatever order the partitions were read in. No
    dataset yet (an empty lake: the first evaluation after a fresh start) gives no rows."""
    if "label" not in media_features.columns:
        return pl.DataFrame(schema={"label": pl.String, "group": pl.String})
    data = with_magnitudes(
        media_features.filter(pl.col("label").is_not_null()).sort("dataset", "relpath")
    )
    if data.is_empty():
        return data.with_columns(pl.lit(None, pl.String).alias("group"))
    # subject_id is one identity across datasets: the same person in two datasets must
    # stay on one side of every split.
    return data.with_columns(pl.Series("group", frame_groups(data)))


def available_features(frame: pl.DataFrame) -> list[str]:
    """The classifier features present with at least two distinct values (a blendshape pair
    that never activates in the data is all null and carries nothing to learn)."""
    return [
        c
        for c in CLASSIFIER_FEATURES
        if c in frame.columns and frame[c].drop_nulls().drop_nans().n_unique() >= 2
    ]
