"""Which frames of each usable media file are analysed."""

from __future__ import annotations

import numpy as np
import polars as pl

SAMPLED_FRAMES_SCHEMA = {
    "dataset": pl.String,
    "media_id": pl.String,
    "frame_index": pl.Int64,
    "t_s": pl.Float64,
}


def video_frame_plan(
    fps: float, n_frames: int, sample_fps: float, max_frames: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices at `sample_fps` (never faster than the source) and their times in s."""
    step = max(fps / sample_fps, 1.0)
    indices = np.unique(np.round(np.arange(0, n_frames, step)).astype(np.int64))
    indices = indices[indices < n_frames]
    if max_frames is not None:
        indices = indices[:max_frames]
    return indices, indices / fps


def sample_frames(
    inventory: pl.DataFrame, sample_fps: float = 5.0, max_frames_per_video: int | None = None
) -> pl.DataFrame:
    usable = inventory.filter((pl.col("status") == "ok") & pl.col("kind").is_in(["image", "video"]))
    parts = []
    for row in usable.iter_rows(named=True):
        if row["kind"] == "image":
            indices, times = np.array([0]), np.array([0.0])
        else:
            indices, times = video_frame_plan(
                row["fps"], row["n_frames"], sample_fps, max_frames_per_video
            )
        parts.append(
            pl.DataFrame(
                {
                    "dataset": row["dataset"],
                    "media_id": row["media_id"],
                    "frame_index": indices,
                    "t_s": times,
                },
                schema=SAMPLED_FRAMES_SCHEMA,
            )
        )
    if not parts:
        return pl.DataFrame(schema=SAMPLED_FRAMES_SCHEMA)
    return pl.concat(parts).sort("media_id", "frame_index")
