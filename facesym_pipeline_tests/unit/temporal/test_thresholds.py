"""Healthy-range thresholds from unaffected data."""

import numpy as np
import polars as pl

from facesym_pipeline.demo.synthetic_series import synthetic_video
from facesym_pipeline.lib.temporal.series import build_temporal_series
from facesym_pipeline.lib.temporal.thresholds import (
    DEFAULT_THRESHOLDS,
    baseline_segment,
    healthy_threshold,
    thresholds_from_frames,
)

M = "mouth_corner_height_diff_mm"


def test_percentile_of_absolute_values():
    v = np.concatenate([np.linspace(-3, 3, 101), [np.nan]])
    assert abs(healthy_threshold(v, 90) - 2.7) < 0.07
    assert healthy_threshold(np.array([np.nan])) is None


def test_thresholds_from_healthy_frames_with_floor_and_default():
    rng = np.random.default_rng(0)
    healthy = pl.DataFrame(
        {M: rng.normal(0, 1.0, 500), "eye_opening_diff_mm": rng.normal(0, 0.05, 500)}
    )
    th = thresholds_from_frames(healthy, percentile=95)
    assert 1.7 < th[M] < 2.3  # 95th percentile of |N(0, 1)| is 1.96
    assert th["eye_opening_diff_mm"] == DEFAULT_THRESHOLDS["eye_opening_diff_mm"] / 2
    assert th["brow_height_diff_mm"] == DEFAULT_THRESHOLDS["brow_height_diff_mm"]


def test_symmetric_videos_give_thresholds_below_droop():
    frames = pl.concat(
        [synthetic_video("symmetric_control", fps=5, seed=s) for s in range(6)],
        how="diagonal_relaxed",
    )
    series = build_temporal_series(frames)
    smooth = series.select(pl.col(f"{M}_smooth").alias(M))
    th = thresholds_from_frames(smooth)
    assert th[M] < 2.0  # a 4 mm constant droop is well beyond the healthy range
    first = baseline_segment(series, 2.0)
    assert first.group_by("media_id").agg(pl.col("t_s").max())["t_s"].max() < 2.0
