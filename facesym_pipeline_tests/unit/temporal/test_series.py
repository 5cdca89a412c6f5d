"""Uniform time base, gap handling, Hampel filter and running median (windows in seconds)."""

import numpy as np
import polars as pl

from facesym_pipeline.demo.synthetic_series import synthetic_video
from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.series import (
    build_temporal_series,
    hampel,
    per_second,
    rolling_median,
    uniform_grid,
)

M = "mouth_corner_height_diff_mm"


def _frames(t, v):
    return pl.DataFrame({"media_id": "v", "frame_index": np.arange(len(t)), "t_s": t, M: v})


def test_short_gaps_bridged_long_gaps_kept():
    t = np.arange(50) / 5.0
    keep = np.ones(50, dtype=bool)
    keep[[10, 11]] = False  # 0.6 s between observed neighbours -> bridged
    keep[25:33] = False  # 1.8 s gap -> stays a gap
    grid = uniform_grid(_frames(t[keep], t[keep].copy()), [M], fps=5.0, max_gap_s=0.6)
    assert grid.height == 50
    v = grid[M].to_numpy()
    assert np.allclose(v[[10, 11]], t[[10, 11]])  # linear ramp is interpolated exactly
    assert grid["interpolated"].to_numpy()[[10, 11]].all()
    assert np.isnan(v[25:33]).all()
    assert not grid["observed"].to_numpy()[25:33].any()


def test_long_gap_stays_gap_after_smoothing():
    frames = synthetic_video("droop_constant_left", fps=5, seed=3, gaps=((5.0, 6.6),))
    s = build_temporal_series(frames)
    gap = s.filter((pl.col("t_s") > 5.05) & (pl.col("t_s") < 6.55))
    assert gap.height == 7
    assert gap[f"{M}_smooth"].is_nan().all() or gap[f"{M}_smooth"].is_null().all()


def test_hampel_replaces_single_outlier_not_ramp():
    rng = np.random.default_rng(0)
    t = np.arange(50) / 5.0
    v = 0.5 * t + rng.normal(0, 0.3, t.size)
    v[20] += 6.0
    cleaned, out = hampel(v, 5.0, window_s=1.0, n_sigma=3.0, min_scale=0.3)
    assert out[20] and out.sum() <= 2
    assert abs(cleaned[20] - 0.5 * t[20]) < 1.0


def test_window_is_in_seconds():
    # a 0.4 s bump survives a 0.2 s median but not a 1.0 s median, at either frame rate
    for fps in (5.0, 10.0):
        t = np.arange(int(10 * fps)) / fps
        v = np.where((t >= 5.0) & (t < 5.4), 3.0, 0.0)
        assert rolling_median(v, fps, 1.0).max() == 0.0
        assert rolling_median(v, fps, 0.25).max() == 3.0


def test_series_columns_and_per_second():
    s = build_temporal_series(synthetic_video("symmetric_control", fps=10, seed=1))
    assert {"media_id", "t_s", "observed", f"{M}_smooth", "smile_active"} <= set(s.columns)
    dt = np.diff(s["t_s"].to_numpy())
    assert np.allclose(dt, 0.1)
    ps = per_second(s)
    assert ps.height == 10
    assert ps["n_observed"].max() <= 10


def test_idempotent():
    frames = synthetic_video("droop_growing_left", fps=5, seed=2)
    a = build_temporal_series(frames, TemporalConfig())
    b = build_temporal_series(frames, TemporalConfig())
    assert a.equals(b)


def test_a_dataset_without_videos_gives_empty_tables():
    from facesym_pipeline.lib.temporal.series import build_temporal_series, per_second

    stills = pl.DataFrame(
        {"media_id": [], "frame_index": [], "t_s": []},
        schema={"media_id": pl.String, "frame_index": pl.Int64, "t_s": pl.Float64},
    )
    series = build_temporal_series(stills)
    assert series.is_empty()
    assert per_second(series).is_empty()
