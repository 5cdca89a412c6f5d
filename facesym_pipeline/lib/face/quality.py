"""The frame-quality judge: which analysed frames are fit for measurement, and why not.

Cheap to re-run: it reads only the landmark table, never the pixels.

Resolution and blur are judged on the face, in millimetres, from the face's own iris scale
(`mm_per_px`), so one limit holds for a 100-px and a 1000-px face: a pixel-count or
Laplacian limit passes an upscaled small face as "sharp" and sits at ~2 mm of blur, where
the mouth and eye measures are already off by more than 1 mm. Starting values come from
degrading 158 real portraits in known ways (blur in mm on the face, low resolution); the
worst undegraded portrait reads 0.83 mm of blur.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from facesym_pipeline.lib.face.geometry import (
    IRIS_DIAMETER_MM,
    head_pose_deg,
    iris_diameter_px,
    pixel_points,
)
from facesym_pipeline.lib.face.landmark_table import landmark_arrays


@dataclass(frozen=True)
class QualityThresholds:
    max_mm_per_px: float = 1.5  # face_too_small: iris >= 7.8 px, a face about 100 px wide
    max_abs_yaw_deg: float = 25.0
    max_abs_pitch_deg: float = 25.0
    max_abs_roll_deg: float = 30.0
    max_blur_mm: float = 1.0  # blurry: estimated blur (Gaussian sigma) on the face, in mm
    # multiple_faces only when another face is at least this wide relative to the main one:
    # a small face in the background does not disturb the main face's measurement.
    min_second_face_ratio: float = 0.6
    # occluded: fraction of the face oval under a detected hand (flat range 0.01-0.12 on a
    # labelled video; a fist resting under the chin reads ~0.05)
    max_hand_cover: float = 0.05
    # Within a video, a frame with occluded frames on both sides, each at most this far
    # away, is occluded too: a hand lying flat over the nose and eyes escapes the palm
    # detector in single frames.
    occlusion_gap_s: float = 0.5
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
    "mm_per_px": pl.Float32,
    "blur_mm": pl.Float32,
    "hand_cover": pl.Float32,
}


def judge_frames(landmarks: pl.DataFrame, thresholds: QualityThresholds) -> pl.DataFrame:
    """One row per landmark row: passed, and every reason that applies (not just the first)."""
    n = landmarks.height
    reasons: list[list[str]] = [[] for _ in range(n)]
    pose = np.full((n, 3), np.nan, dtype=np.float32)
    mm_per_px = np.full(n, np.nan, dtype=np.float64)
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
        points_px = pixel_points(arrays["landmarks"], arrays["frame_width"], arrays["frame_height"])
        mm_per_px[with_face] = IRIS_DIAMETER_MM / np.maximum(iris_diameter_px(points_px), 1e-6)
        face_mm_per_px = mm_per_px[with_face]
        blur_mm = _values(face_rows["blur_sigma_px"]) * face_mm_per_px
        xy = arrays["landmarks"][:, :, :2]
        outside = ((xy < 0) | (xy > 1)).any(axis=2).mean(axis=1)
        checks = {
            "multiple_faces": (face_rows["face_count"].to_numpy() > 1)
            & ~(_values(face_rows["second_face_ratio"]) < thresholds.min_second_face_ratio),
            "face_too_small": ~(face_mm_per_px <= thresholds.max_mm_per_px),
            "pose_beyond_limits": (
                np.abs(pose[with_face])
                > [
                    thresholds.max_abs_yaw_deg,
                    thresholds.max_abs_pitch_deg,
                    thresholds.max_abs_roll_deg,
                ]
            ).any(axis=1),  # fmt: skip
            "blurry": ~(blur_mm <= thresholds.max_blur_mm),  # not measured counts as failing
            "too_dark": _lt(face_rows["brightness"], thresholds.min_brightness),
            "too_bright": ~_lt(face_rows["brightness"], thresholds.max_brightness),
            "landmarks_outside_frame": outside > thresholds.max_outside_fraction,
            # unknown occlusion (not measured: null) never rejects a frame
            "occluded": _values(face_rows["hand_cover"]) >= thresholds.max_hand_cover,
        }
        checks["occluded"] = _close_gaps(
            checks["occluded"], face_rows["media_id"], face_rows["t_s"], thresholds.occlusion_gap_s
        )
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
            "mm_per_px": mm_per_px,
            "blur_mm": landmarks["blur_sigma_px"].cast(pl.Float64).fill_null(np.nan).to_numpy()
            * mm_per_px,
            "hand_cover": landmarks["hand_cover"],
        },
        schema=FRAME_QUALITY_SCHEMA,
    )


def _lt(series: pl.Series, limit: float) -> np.ndarray:
    return ~(_values(series) >= limit)  # NaN (not measured) counts as failing


def _values(series: pl.Series) -> np.ndarray:
    """float64 with NaN for null; comparisons with NaN are False, so each rule says
    explicitly whether an unmeasured value passes or fails."""
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy()


def _close_gaps(flags: np.ndarray, media_id: pl.Series, t_s: pl.Series, gap_s: float) -> np.ndarray:
    """Flag every frame that has a flagged frame at most `gap_s` before it and one at most
    `gap_s` after it in the same media. Fills short gaps only: an onset or an end is never
    moved, and a still (one frame) is unchanged."""
    frame = pl.DataFrame({"media_id": media_id, "t_s": t_s, "flag": flags}).with_row_index("row")
    frame = frame.sort("media_id", "t_s")
    flagged_t = pl.when(pl.col("flag")).then(pl.col("t_s"))
    within_gap = (pl.col("t_s") - pl.col("before") <= gap_s) & (
        pl.col("after") - pl.col("t_s") <= gap_s
    )
    closed = frame.with_columns(
        before=flagged_t.forward_fill().over("media_id"),
        after=flagged_t.backward_fill().over("media_id"),
    ).select("row", closed=pl.col("flag") | within_gap.fill_null(False))
    out = np.zeros(len(flags), dtype=bool)
    out[closed["row"].to_numpy()] = closed["closed"].to_numpy()
    return out


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
