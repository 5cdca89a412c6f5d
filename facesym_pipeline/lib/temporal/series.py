"""Per-video measures on a uniform time base: short quality gaps are bridged, long ones are
kept as gaps, outlier frames are replaced by a Hampel filter and the series is smoothed with a
running median. Windows are given in seconds and converted to samples of the time base."""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.lib.stride_tricks import sliding_window_view

from facesym_pipeline.lib.temporal.config import MEASURES, TemporalConfig

_MAD_TO_SIGMA = 1.4826


def estimate_fps(t_s: np.ndarray) -> float:
    """Sampling rate of a series from the median spacing of its (possibly gappy) times."""
    t = np.unique(np.asarray(t_s, dtype=float))
    if t.size < 2:
        raise ValueError("need at least two distinct time stamps to estimate the frame rate")
    return float(1.0 / np.median(np.diff(t)))


def half_window(window_s: float, fps: float) -> int:
    """Samples on each side of the centre for a centred window of `window_s` seconds."""
    return max(1, int(np.floor(window_s * fps / 2.0 + 1e-9)))


def uniform_grid(
    frames: pl.DataFrame, columns: list[str], fps: float | None = None, max_gap_s: float = 0.6
) -> pl.DataFrame:
    """Place one video's frames on a uniform grid `t0 + k/fps`.

    Returns `t_s`, `observed` (a frame landed on this grid point), `interpolated` (value
    bridged across a short gap) and the given columns. Values are interpolated linearly only
    where the observed samples on either side are at most `max_gap_s` apart (per column, so a
    measure that is null on some frames is bridged the same way).
    """
    t = frames["t_s"].to_numpy().astype(float)
    if fps is None:
        fps = estimate_fps(t)
    dt = 1.0 / fps
    t0 = float(t.min())
    idx = np.rint((t - t0) / dt).astype(np.int64)
    n = int(idx.max()) + 1
    grid_t = t0 + np.arange(n) * dt
    observed = np.zeros(n, dtype=bool)
    observed[idx] = True
    out: dict[str, np.ndarray] = {"t_s": grid_t, "observed": observed}
    any_interp = np.zeros(n, dtype=bool)
    for col in columns:
        vals = frames[col].cast(pl.Float64).fill_nan(None).to_numpy().astype(float)
        # Two frames rounding to one grid point (jittery stamps) are averaged.
        sums = np.bincount(idx, weights=np.nan_to_num(vals), minlength=n)
        counts = np.bincount(idx, weights=np.isfinite(vals).astype(float), minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            gv = np.where(counts > 0, sums / counts, np.nan)
        filled, bridged = bridge_short_gaps(grid_t, gv, max_gap_s)
        out[col] = filled
        any_interp |= bridged
    out["interpolated"] = any_interp
    return pl.DataFrame(out).select(["t_s", "observed", "interpolated", *columns])


def bridge_short_gaps(
    t_s: np.ndarray, values: np.ndarray, max_gap_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation across gaps whose bracketing samples are <= `max_gap_s` apart.

    Returns (values, bridged mask). Leading/trailing gaps are never filled.
    """
    v = np.asarray(values, dtype=float).copy()
    ok = np.isfinite(v)
    bridged = np.zeros(v.size, dtype=bool)
    if ok.sum() < 2:
        return v, bridged
    ti = t_s[ok]
    pos = np.searchsorted(ti, t_s)  # index of next observed sample
    inside = (~ok) & (pos > 0) & (pos < ti.size)
    prev_t = ti[np.clip(pos - 1, 0, ti.size - 1)]
    next_t = ti[np.clip(pos, 0, ti.size - 1)]
    fill = inside & (next_t - prev_t <= max_gap_s + 1e-9)
    v[fill] = np.interp(t_s[fill], ti, v[ok])
    bridged[fill] = True
    return v, bridged


def _windows(values: np.ndarray, half: int) -> np.ndarray:
    padded = np.pad(np.asarray(values, dtype=float), half, constant_values=np.nan)
    return sliding_window_view(padded, 2 * half + 1)


def rolling_median(values: np.ndarray, fps: float, window_s: float) -> np.ndarray:
    """Centred running median over `window_s` seconds ignoring NaN; gaps stay NaN."""
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return v.copy()
    win = _windows(v, half_window(window_s, fps))
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(win, axis=1)
    return np.where(np.isfinite(v), med, np.nan)


def hampel(
    values: np.ndarray, fps: float, window_s: float, n_sigma: float = 3.0, min_scale: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Hampel filter: samples further than `n_sigma` robust SDs from the centred running
    median over `window_s` seconds are replaced by that median. `min_scale` bounds the SD from
    below so a locally flat series does not treat ordinary jitter as outliers.

    Returns (cleaned values, outlier mask).
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return v.copy(), np.zeros(0, dtype=bool)
    win = _windows(v, half_window(window_s, fps))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(win, axis=1)
        mad = np.nanmedian(np.abs(win - med[:, None]), axis=1)
    scale = np.maximum(_MAD_TO_SIGMA * mad, min_scale)
    outlier = np.isfinite(v) & (np.abs(v - med) > n_sigma * scale)
    return np.where(outlier, med, v), outlier


def build_temporal_series(
    frames: pl.DataFrame,
    config: TemporalConfig | None = None,
    fps: float | None = None,
) -> pl.DataFrame:
    """The `temporal_series` rows of one or several videos.

    Input: per-frame features with `media_id, frame_index, t_s`, any of the symmetry measures
    in `config.MEASURES` and optionally raw blendshape columns (`bs_mouthSmileLeft`, ...).
    Output per video and grid point: `media_id, t_s, observed, interpolated`, for each measure
    the gridded value `<m>` and the cleaned, expression-adjusted, smoothed `<m>_smooth`, plus
    `<m>_outlier` and the expression columns from `expression.expression_columns`.
    """
    from facesym_pipeline.lib.temporal.expression import adjust_for_expressions

    cfg = config or TemporalConfig()
    parts = []
    for (media_id,), video in frames.sort("t_s").group_by(["media_id"], maintain_order=True):
        parts.append(_one_video(str(media_id), video, cfg, fps, adjust_for_expressions))
    if not parts:
        return pl.DataFrame(
            {"media_id": [], "t_s": []}, schema={"media_id": pl.Utf8, "t_s": pl.Float64}
        )
    return pl.concat(parts, how="diagonal_relaxed")


def _one_video(media_id, video, cfg, fps, adjust_for_expressions) -> pl.DataFrame:
    measures = [m for m in MEASURES if m in video.columns]
    blend = [c for c in video.columns if c.startswith("bs_")]
    if video.height < 2:
        return video.select(["t_s", *measures]).with_columns(pl.lit(media_id).alias("media_id"))
    rate = fps or estimate_fps(video["t_s"].to_numpy())
    grid = uniform_grid(video, measures + blend, rate, cfg.max_gap_s)
    cleaned: dict[str, np.ndarray] = {}
    extra: dict[str, np.ndarray] = {}
    for m in measures:
        vals, out = hampel(
            grid[m].to_numpy(), rate, cfg.hampel_window_s, cfg.hampel_n_sigma, cfg.hampel_min_scale
        )
        cleaned[m] = vals
        extra[f"{m}_outlier"] = out
    adjusted, expr_cols = adjust_for_expressions(grid, cleaned, rate, cfg)
    for m in measures:
        extra[f"{m}_smooth"] = rolling_median(adjusted[m], rate, cfg.smooth_window_s)
    return grid.with_columns(
        pl.lit(media_id).alias("media_id"),
        *[pl.Series(k, v) for k, v in {**extra, **expr_cols}.items()],
    ).select(["media_id", "t_s", "observed", "interpolated", *measures, *blend,
              *sorted(extra), *expr_cols])  # fmt: skip


def per_second(series: pl.DataFrame) -> pl.DataFrame:
    """Per-second aggregates of a `temporal_series`: median of each smoothed measure and the
    number of observed frames in that second."""
    smooth = [c for c in series.columns if c.endswith("_smooth")]
    if "observed" not in series.columns:  # no video in the dataset
        return pl.DataFrame(
            schema={"media_id": pl.String, "second": pl.Int64, "n_observed": pl.UInt32}
        )
    return (
        series.with_columns(pl.col("t_s").floor().cast(pl.Int64).alias("second"))
        .group_by(["media_id", "second"], maintain_order=True)
        .agg(pl.col("observed").sum().alias("n_observed"), *[pl.col(c).median() for c in smooth])
        .sort(["media_id", "second"])
    )
