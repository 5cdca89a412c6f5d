"""Trend and change detection on one smoothed measure: a robust (Theil-Sen) slope with a
confidence interval, a one-sided CUSUM against the video's own first seconds that raises an
alarm on a sustained shift, and a broken-stick fit that dates the onset of that shift."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import theilslopes

from facesym_pipeline.lib.temporal.config import TemporalConfig

LABELS = ("stable", "worsening", "improving", "insufficient_data")


@dataclass(frozen=True)
class Slope:
    """Theil-Sen slope (units per second) with its confidence interval."""

    slope: float
    lo: float
    hi: float
    intercept: float
    n: int


@dataclass(frozen=True)
class Change:
    """A sustained shift found by CUSUM: alarm time, dated onset and direction (+1 up)."""

    alarm_s: float
    onset_s: float
    direction: int


@dataclass(frozen=True)
class Trend:
    """Trend of one measure. `slope*` are on the severity scale (positive = asymmetry
    growing), over the time since onset when there is one, else over the whole video."""

    label: str
    slope: float | None
    slope_lo: float | None
    slope_hi: float | None
    onset_s: float | None
    alarm_s: float | None
    baseline_level: float | None
    final_level: float | None
    sign: int  # sign of the asymmetry (of the signed measure) the severity scale follows


def theil_sen(t_s: np.ndarray, y: np.ndarray, confidence: float = 0.90) -> Slope | None:
    """Theil-Sen slope of y over t with a `confidence` interval; None below 3 finite points."""
    t, v = np.asarray(t_s, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(t) & np.isfinite(v)
    if ok.sum() < 3 or np.ptp(t[ok]) == 0:
        return None
    res = theilslopes(v[ok], t[ok], alpha=confidence)
    return Slope(
        float(res.slope), float(res.low_slope), float(res.high_slope), float(res.intercept),
        int(ok.sum()),
    )  # fmt: skip


def cusum_alarm(
    t_s: np.ndarray,
    y: np.ndarray,
    baseline: float,
    direction: int,
    allowance: float,
    alarm: float,
    fps: float,
) -> Change | None:
    """One-sided CUSUM of direction*(y - baseline) - allowance, integrated over time (so the
    alarm level is in units x seconds and does not depend on the frame rate). Gaps leave the
    sum unchanged. Returns the first alarm and the start of the excursion that raised it."""
    t, v = np.asarray(t_s, dtype=float), np.asarray(y, dtype=float)
    dt = 1.0 / fps
    s = 0.0
    start = None
    for i in range(v.size):
        if not np.isfinite(v[i]):
            continue
        s = max(0.0, s + (direction * (v[i] - baseline) - allowance) * dt)
        if s == 0.0:
            start = None
        elif start is None:
            start = i
        if s > alarm:
            return Change(alarm_s=float(t[i]), onset_s=float(t[start]), direction=direction)
    return None


def broken_stick_onset(t_s: np.ndarray, y: np.ndarray, t_min: float, t_max: float) -> float:
    """Onset tau of the least-squares ramp y = a + b*clip(t - tau, 0, end - tau), with
    tau in [t_min, t_max] and the ramp's end anywhere after it (or at the last sample).

    Dates a ramp's start more precisely than the CUSUM excursion start, which lags by the
    time the ramp needs to outgrow the allowance. The free end lets a droop that stops
    growing (a plateau) be fitted as such instead of pulling one long ramp to an earlier,
    flatter start."""
    t, v = np.asarray(t_s, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    starts = t[(t >= t_min) & (t <= t_max)]
    if starts.size == 0 or t.size < 3:
        return float(t_max)
    ends = t[t > starts.min()]
    tau, end = np.meshgrid(starts, ends, indexing="ij")
    valid = end > tau
    x = np.clip(t[None, None, :] - tau[..., None], 0.0, (end - tau)[..., None])
    xm, vm = x.mean(axis=-1, keepdims=True), v.mean()
    sxx = ((x - xm) ** 2).sum(axis=-1)
    sxy = ((x - xm) * (v - vm)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = np.where(sxx > 0, sxy / sxx, 0.0)
    sse = (((v - vm) - b[..., None] * (x - xm)) ** 2).sum(axis=-1)
    sse = np.where(valid, sse, np.inf)
    best = np.unravel_index(int(np.argmin(sse)), sse.shape)
    return float(tau[best])


def _window_median(t: np.ndarray, v: np.ndarray, lo: float, hi: float) -> float | None:
    sel = (t >= lo) & (t < hi) & np.isfinite(v)
    return float(np.median(v[sel])) if sel.any() else None


def measure_trend(
    t_s: np.ndarray, y: np.ndarray, fps: float, config: TemporalConfig | None = None
) -> Trend:
    """Label one smoothed measure `worsening` / `improving` / `stable` / `insufficient_data`.

    The level over the last `final_window_s` is compared with the video's own baseline (its
    first `baseline_s`): the face's own asymmetry at the start is the reference, so a droop
    on the side opposite to a natural tilt counts from where the face started.
    improving: |level| fell by >= `min_change` towards symmetry without changing side;
    worsening: any other move of >= `min_change` away from the baseline (including one that
    crosses zero); both need a CUSUM alarm in that direction (the change is sustained, not a
    transient expression). The onset is the
    broken-stick fit's knee, searched up to the alarm; the slope is the rate of change in
    the direction of the shift.
    """
    cfg = config or TemporalConfig()
    t, v = np.asarray(t_s, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(v)
    observed_s = ok.sum() / fps
    if observed_s < cfg.min_observed_s:
        return Trend("insufficient_data", None, None, None, None, None, None, None, 0)
    t_first, t_last = t[ok][0], t[ok][-1] + 1.0 / fps
    base = _window_median(t, v, t_first, t_first + cfg.baseline_s)
    final = _window_median(t, v, t_last - cfg.final_window_s, t_last)
    overall = float(np.median(v[ok]))
    change = abs(final) - abs(base)
    shift = final - base
    label, chg = "stable", None
    candidate = None
    # Improving: back towards symmetry on the same side. Any other sustained shift from the
    # face's own start is a new asymmetry, also when it crosses zero (a droop on the side
    # opposite to a natural tilt first cancels it, then shows).
    toward_symmetry = -change >= cfg.min_change and np.sign(final) == np.sign(base)
    if toward_symmetry:
        candidate = "improving"
    elif abs(shift) >= cfg.min_change:
        candidate = "worsening"
    if candidate is not None:
        direction = 1 if shift > 0 else -1
        chg = cusum_alarm(t, v, base, direction, cfg.cusum_allowance, cfg.cusum_alarm, fps)
        if chg is not None:
            label = candidate
    if label == "worsening":
        sign = 1 if shift >= 0 else -1
    elif label == "improving":
        sign = 1 if base >= 0 else -1
    else:
        sign = 1 if overall >= 0 else -1
    onset = alarm = None
    fit_from = t_first
    if chg is not None:
        alarm = chg.alarm_s
        onset = broken_stick_onset(t, v, t_first, alarm)
        fit_from = onset
    sel = t >= fit_from
    slope = theil_sen(t[sel], sign * v[sel], cfg.trend_alpha)
    return Trend(
        label=label,
        slope=slope.slope if slope else None,
        slope_lo=slope.lo if slope else None,
        slope_hi=slope.hi if slope else None,
        onset_s=onset,
        alarm_s=alarm,
        baseline_level=base,
        final_level=final,
        sign=sign,
    )
