"""The per-frame inputs of the temporal analysis: symmetry measures and raw blendshape
scores of the quality-passed frames of each video."""

from __future__ import annotations

import polars as pl

KEYS = ["dataset", "media_id", "frame_index", "t_s"]
# Left-right distances to the midline shift when the head turns (a far-side point is
# foreshortened even after frontalisation: about 3.7 mm for the mouth corners at 15 deg of
# yaw), so beyond this yaw those measures become gaps; heights are kept (< 1 mm at 15 deg).
MAX_YAW_FOR_MIDLINE_DEG = 10.0
MIDLINE_MEASURES = (
    "mouth_corner_midline_diff_mm",
    "upper_lip_midline_offset_mm",
    "lower_lip_midline_offset_mm",
    "eye_midline_diff_mm",
    "nose_tip_midline_mm",
    "nasal_bridge_deviation_deg",
)


def video_frames(
    symmetry: pl.DataFrame, functional: pl.DataFrame, inventory: pl.DataFrame
) -> pl.DataFrame:
    videos = inventory.filter((pl.col("kind") == "video") & (pl.col("status") == "ok"))
    frames = symmetry.join(videos.select("media_id").unique(), on="media_id", how="semi")
    raw = functional.select(
        *KEYS, *[c for c in functional.columns if c.startswith("bs_") and not c.endswith("_asym")]
    )
    return (
        gate_midline_measures(frames).join(raw, on=KEYS, how="left").sort("media_id", "frame_index")
    )


def gate_midline_measures(frames: pl.DataFrame) -> pl.DataFrame:
    """Midline measures set to null on frames turned beyond MAX_YAW_FOR_MIDLINE_DEG."""
    turned = pl.col("yaw_deg").abs() > MAX_YAW_FOR_MIDLINE_DEG
    return frames.with_columns(
        pl.when(turned).then(None).otherwise(pl.col(m)).alias(m)
        for m in MIDLINE_MEASURES
        if m in frames.columns
    )


def labelled_videos(inventory: pl.DataFrame) -> pl.DataFrame:
    """media_id, label, subject_id of every usable labelled video (none before any dataset
    has an inventory: the lake's empty read has no columns)."""
    if inventory.is_empty():
        schema = {"media_id": pl.String, "label": pl.Int8, "subject_id": pl.String}
        return pl.DataFrame(schema=schema)
    return inventory.filter(
        (pl.col("kind") == "video") & (pl.col("status") == "ok") & pl.col("label").is_not_null()
    ).select("media_id", "label", "subject_id")
