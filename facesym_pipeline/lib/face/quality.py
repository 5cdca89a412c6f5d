"""The frame-quality judge: which analysed frames are fit for measurement, and why not.

Cheap to re-run: it reads only the landmark table, never the pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from facesym_pipeline.lib.face.geometry import head_pose_deg
from facesym_pipeline.lib.face.landmark_table import landmark_arrays


@dataclass(frozen=True)
class QualityThresholds:
    min_face_width_px: float = 80.0
    max_abs_yaw_deg: float = 25.0
    max_abs_pitch_deg: float = 25.0
    max_abs_roll_deg: float = 30.0
    min_sharpness: float = 15.0  # Laplacian variance on a 128-px-wide face crop
    min_brightness: float = 35.0  # mean grey level (0-255) of the face region
    max_brightness: float = 235.0
    max_outside_fraction: float = 0.02  # landmarks outside the frame


FRAME_QUALITY_SCHEMA = {
    "dataset": pl.String,
    "media_id": pl.String,
    "frame_index": pl.Int64,
    "t_s": pl.Float64,
    "passed": pl.Boolean,
    "reasons": pl.List(pl.String),
    "yaw_deg": pl.Float32,
    "pitch_deg": pl.Float32,
    "roll_deg": pl.Float32,
}


def judge_frames(landmarks: pl.DataFrame, thresholds: QualityThresholds) -> pl.DataFrame:
    """One row per landmark row: passed, and every reason that applies (not just the first)."""
    n = landmarks.height
    reasons: list[list[str]] = [[] for _ in range(n)]
    pose = np.full((n, 3), np.nan, dtype=np.float32)
    status = landmarks["status"].to_list()
    for i, (state, why) in enumerate(zip(status, landmarks["reason"].to_list(), strict=True)):
        if state == "media_error":
            reasons[i].append(f"media_error: {why}")
        elif state == "decode_failed":
            reasons[i].append("decode_failed")
        elif state == "no_face":
            reasons[i].append("no_face")
    with_face = np.flatnonzero(np.array(status) == "ok")
    if with_face.size:
        face_rows = landmarks[with_face]
        arrays = landmark_arrays(face_rows)
        pose[with_face] = np.stack(
            head_pose_deg(arrays["landmarks"], arrays["frame_width"], arrays["frame_height"]),
            axis=-1,
        )
        xy = arrays["landmarks"][:, :, :2]
        outside = ((xy < 0) | (xy > 1)).any(axis=2).mean(axis=1)
        checks = {
            "multiple_faces": face_rows["face_count"].to_numpy() > 1,
            "face_too_small": face_rows["face_width_px"].to_numpy() < thresholds.min_face_width_px,
            "pose_beyond_limits": (
                np.abs(pose[with_face])
                > [
                    thresholds.max_abs_yaw_deg,
                    thresholds.max_abs_pitch_deg,
                    thresholds.max_abs_roll_deg,
                ]
            ).any(axis=1),  # fmt: skip
            "blurry": _lt(face_rows["sharpness"], thresholds.min_sharpness),
            "too_dark": _lt(face_rows["brightness"], thresholds.min_brightness),
            "too_bright": ~_lt(face_rows["brightness"], thresholds.max_brightness),
            "landmarks_outside_frame": outside > thresholds.max_outside_fraction,
        }
        counts = face_rows["face_count"].to_list()
        for name, flags in checks.items():
            for j in np.flatnonzero(flags):
                label = f"multiple_faces: {counts[j]}" if name == "multiple_faces" else name
                reasons[with_face[j]].append(label)
    return pl.DataFrame(
        {
            "dataset": landmarks["dataset"],
            "media_id": landmarks["media_id"],
            "frame_index": landmarks["frame_index"],
            "t_s": landmarks["t_s"],
            "passed": [not r for r in reasons],
            "reasons": reasons,
            "yaw_deg": pose[:, 0],
            "pitch_deg": pose[:, 1],
            "roll_deg": pose[:, 2],
        },
        schema=FRAME_QUALITY_SCHEMA,
    )


def _lt(series: pl.Series, limit: float) -> np.ndarray:
    values = series.cast(pl.Float64).fill_null(np.nan).to_numpy()
    return ~(values >= limit)  # NaN (not measured) counts as failing


def passed_frames(landmarks: pl.DataFrame, quality: pl.DataFrame) -> pl.DataFrame:
    """Landmark rows of the frames that passed quality, in (media_id, frame_index) order:
    what every measurement, crop and audit starts from."""
    passed = quality.filter(pl.col("passed")).select("media_id", "frame_index")
    return landmarks.join(passed, on=["media_id", "frame_index"], how="semi").sort(
        "media_id", "frame_index"
    )


def reason_counts(quality: pl.DataFrame) -> dict[str, int]:
    exploded = quality.select(pl.col("reasons").explode()).drop_nulls()
    codes = exploded.get_column("reasons").str.split(":").list.first()
    return dict(sorted(codes.value_counts().iter_rows()))
