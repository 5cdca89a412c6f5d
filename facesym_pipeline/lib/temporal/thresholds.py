"""Healthy ranges of the symmetry measures. Healthy faces are not perfectly symmetric, so a
measure is "beyond threshold" only past a high percentile of |measure| on unaffected faces
(symmetric / no-stroke data, or the first seconds of a video known to start healthy)."""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.measure.registry import default_limits
from facesym_pipeline.lib.temporal.config import MEASURES

# Prior limits used until a healthy baseline has been measured: the registry's defaults.
DEFAULT_THRESHOLDS: dict[str, float] = default_limits(MEASURES)

# A 95th percentile over fewer people than this is close to their maximum and says little
# about the population: with fewer, the data may raise a threshold but never lower it
# below the documented default.
MIN_SUBJECTS_TO_LOWER = 20


def healthy_threshold(values: np.ndarray, percentile: float = 95.0) -> float | None:
    """The `percentile` of |values| (NaN ignored); None without data."""
    v = np.abs(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    return float(np.percentile(v, percentile)) if v.size else None


def thresholds_from_frames(
    healthy: pl.DataFrame,
    percentile: float = 95.0,
    min_limits: dict[str, float] | None = None,
    min_samples: int = 20,
) -> dict[str, float]:
    """Thresholds from frames of unaffected faces (rows = frames or images, columns = measures).

    Measures with fewer than `min_samples` values keep their default. `min_limits` (default:
    half of `DEFAULT_THRESHOLDS`) bounds each threshold from below, so a very tidy baseline
    does not turn landmark jitter into findings.
    """
    floors = min_limits or {m: v / 2 for m, v in DEFAULT_THRESHOLDS.items()}
    out = dict(DEFAULT_THRESHOLDS)
    for m in MEASURES:
        if m not in healthy.columns:
            continue
        vals = healthy[m].cast(pl.Float64).fill_nan(None).drop_nulls().to_numpy()
        if vals.size < min_samples:
            continue
        out[m] = max(float(healthy_threshold(vals, percentile)), floors.get(m, 0.0))
    return out


def baseline_segment(series: pl.DataFrame, baseline_s: float) -> pl.DataFrame:
    """The first `baseline_s` seconds of each video in a `temporal_series` / frame table.

    Using it as healthy data presumes the recordings start before any asymmetry appears.
    """
    return series.filter(pl.col("t_s") < pl.col("t_s").min().over("media_id") + baseline_s)
