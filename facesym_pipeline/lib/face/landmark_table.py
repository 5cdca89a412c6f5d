"""The `face_landmarks` table: landmark pass results as compact fixed-size float32 lists,
and the way back to (N, 478, 3) arrays for the feature code."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from facesym_pipeline.lib.face.landmarker import BLENDSHAPE_NAMES, MediaResult
from facesym_pipeline.lib.face.mesh import N_LANDMARKS
from facesym_pipeline.lib.face.refine import REFINED_POINTS

LANDMARK_VALUES = N_LANDMARKS * 3
FACE_LANDMARKS_SCHEMA = {
    "dataset": pl.String,
    "media_id": pl.String,
    "frame_index": pl.Int64,
    "t_s": pl.Float64,
    "status": pl.String,  # ok | no_face | decode_failed | media_error
    "reason": pl.String,
    "face_count": pl.Int16,
    "frame_width": pl.Int32,
    "frame_height": pl.Int32,
    "landmarks": pl.Array(pl.Float32, LANDMARK_VALUES),
    "blendshapes": pl.Array(pl.Float32, len(BLENDSHAPE_NAMES)),
    "transform": pl.Array(pl.Float32, 16),
    "refined_xy": pl.Array(pl.Float32, 2 * len(REFINED_POINTS)),
    "face_width_px": pl.Float32,
    "second_face_ratio": pl.Float32,  # widest other face / main face width; null: one face
    "blur_sigma_px": pl.Float32,  # estimated blur at native resolution (Gaussian sigma)
    "hand_cover": pl.Float32,  # fraction of the face oval under a hand; null: not measured
    "brightness": pl.Float32,
    "contrast": pl.Float32,
}


_SCALARS = (
    "face_width_px",
    "second_face_ratio",
    "blur_sigma_px",
    "hand_cover",
    "brightness",
    "contrast",
)


def landmark_rows(
    dataset: str, results: Iterable[MediaResult], planned: dict[str, list[tuple[int, float]]]
) -> pl.DataFrame:
    """One row per planned frame; a media-level failure marks all its frames."""
    columns: dict[str, list] = {name: [] for name in FACE_LANDMARKS_SCHEMA}

    def add(media_id, frame_index, t_s, status, reason=None, frame=None):
        columns["dataset"].append(dataset)
        columns["media_id"].append(media_id)
        columns["frame_index"].append(frame_index)
        columns["t_s"].append(t_s)
        columns["status"].append(status)
        columns["reason"].append(reason)
        columns["face_count"].append(frame.face_count if frame else 0)
        columns["frame_width"].append(frame.frame_width if frame else None)
        columns["frame_height"].append(frame.frame_height if frame else None)
        for name, value in (
            ("landmarks", frame.landmarks if frame else None),
            ("blendshapes", frame.blendshapes if frame else None),
            ("transform", frame.transform if frame else None),
            ("refined_xy", frame.refined_xy if frame else None),
        ):
            columns[name].append(None if value is None else value.reshape(-1))
        for name in _SCALARS:
            columns[name].append(getattr(frame, name) if frame else None)

    for result in results:
        if result.error is not None:
            for frame_index, t_s in planned[result.media_id]:
                add(result.media_id, frame_index, t_s, "media_error", result.error)
            continue
        done = {f.frame_index for f in result.frames}
        for frame in result.frames:
            reason = "frame could not be decoded" if frame.status == "decode_failed" else None
            add(result.media_id, frame.frame_index, frame.t_s, frame.status, reason, frame)
        # Frames past the real end of a stream (container frame counts can lie).
        for frame_index, t_s in planned[result.media_id]:
            if frame_index not in done:
                add(result.media_id, frame_index, t_s, "decode_failed", "stream ended early")
    arrays = {
        name: columns.pop(name) for name in ("landmarks", "blendshapes", "transform", "refined_xy")
    }
    scalar_schema = {k: v for k, v in FACE_LANDMARKS_SCHEMA.items() if k not in arrays}
    frame = pl.DataFrame(columns, schema=scalar_schema).with_columns(
        _array_column(name, values, FACE_LANDMARKS_SCHEMA[name].size)
        for name, values in arrays.items()
    )
    return frame.select(list(FACE_LANDMARKS_SCHEMA)).sort("media_id", "frame_index")


def _array_column(name: str, values: list, width: int) -> pl.Series:
    """Fixed-size float32 list column from rows that are arrays or None, built in one
    numpy block rather than row by row."""
    present = np.array([v is not None for v in values], dtype=bool)
    block = np.zeros((len(values), width), dtype=np.float32)
    if present.any():
        block[present] = np.stack([v for v in values if v is not None])
    series = pl.Series(name, block, dtype=pl.Array(pl.Float32, width))
    return pl.select(
        pl.when(pl.Series(present)).then(series).otherwise(None).alias(name)
    ).to_series()


def landmark_arrays(table: pl.DataFrame) -> dict[str, np.ndarray]:
    """Stack rows that have a face into arrays: landmarks (N,478,3), blendshapes (N,52),
    transform (N,4,4), frame_width/height (N,)."""
    n = table.height
    return {
        "landmarks": table["landmarks"].to_numpy().reshape(n, N_LANDMARKS, 3),
        "blendshapes": table["blendshapes"].to_numpy().reshape(n, len(BLENDSHAPE_NAMES)),
        "transform": table["transform"].to_numpy().reshape(n, 4, 4),
        "frame_width": table["frame_width"].to_numpy(),
        "frame_height": table["frame_height"].to_numpy(),
    }
