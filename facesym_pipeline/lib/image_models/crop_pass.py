"""The crop pass of one dataset: decode each passed still once and write its crops."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from facesym_pipeline.lib.face.landmark_table import landmark_arrays
from facesym_pipeline.lib.face.quality import passed_frames
from facesym_pipeline.lib.image_models.crops import CROP_INDEX_SCHEMA, write_crops
from facesym_pipeline.lib.media.decode import MediaError, load_image_rgb
from facesym_pipeline.lib.paths import resolve_inside


def crops_for_dataset(
    folder: Path,
    inventory: pl.DataFrame,
    landmarks: pl.DataFrame,
    quality: pl.DataFrame,
    out_dir: Path,
) -> pl.DataFrame:
    stills = inventory.filter((pl.col("kind") == "image") & (pl.col("status") == "ok"))
    rows = passed_frames(landmarks, quality).join(
        stills.select("media_id", "relpath").unique("media_id"), on="media_id"
    )
    if rows.is_empty():
        return pl.DataFrame(schema=CROP_INDEX_SCHEMA)
    points = landmark_arrays(rows)["landmarks"]

    def frames():
        for row, lm in zip(rows.iter_rows(named=True), points, strict=True):
            try:
                rgb = load_image_rgb(resolve_inside(folder, row["relpath"]))
            except MediaError:
                continue  # changed on disk since the inventory; the next run accounts for it
            yield row["media_id"], row["frame_index"], rgb, lm

    return write_crops(frames(), out_dir)
