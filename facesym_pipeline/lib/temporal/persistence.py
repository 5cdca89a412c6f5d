"""Persistence of asymmetry beyond the healthy range: flagged only when a measure stays beyond
its threshold for at least `min_duration_s` within some `window_s` window, so a blink, a word
or one bad frame does not count, while brief dips caused by noise do not reset the clock."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Persistence:
    """Time beyond threshold of one measure in one video (seconds)."""

    flagged: bool
    time_beyond_s: float
    observed_s: float
    fraction_beyond: float | None  # of the observed time
    longest_run_s: float
    first_flag_s: float | None
    spans: list[tuple[float, float]] = field(default_factory=list)  # flagged [start, end)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [start, stop) index ranges of consecutive True values."""
    m = np.concatenate([[False], np.asarray(mask, dtype=bool), [False]])
    edges = np.flatnonzero(np.diff(m.astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def beyond_threshold(values: np.ndarray, threshold: float) -> np.ndarray:
    """|values| > threshold; gaps (NaN) are never beyond."""
    v = np.asarray(values, dtype=float)
    return np.isfinite(v) & (np.abs(np.nan_to_num(v)) > threshold)


def persistence(
    t_s: np.ndarray,
    values: np.ndarray,
    threshold: float,
    fps: float,
    min_duration_s: float = 2.0,
    window_s: float = 3.0,
) -> Persistence:
    """Persistence of |values| > threshold on a uniform time base sampled at `fps`."""
    t = np.asarray(t_s, dtype=float)
    beyond = beyond_threshold(values, threshold)
    dt = 1.0 / fps
    observed_s = float(np.isfinite(np.asarray(values, dtype=float)).sum() * dt)
    time_beyond = float(beyond.sum() * dt)
    beyond_runs = runs(beyond)
    longest = max((b - a for a, b in beyond_runs), default=0) * dt

    w = max(1, min(int(round(window_s * fps)), beyond.size))
    need = min_duration_s * fps - 1e-6
    csum = np.concatenate([[0], np.cumsum(beyond)])
    win_sum = csum[w:] - csum[:-w]  # window starting at i covers [i, i+w)
    ok_start = win_sum >= need
    # sample j lies in a satisfied window when some start i in (j-w, j] is satisfied
    c = np.concatenate([[0], np.cumsum(ok_start)])
    j = np.arange(beyond.size)
    lo = np.clip(j - w + 1, 0, ok_start.size)
    hi = np.clip(j + 1, 0, ok_start.size)
    covered = (c[hi] - c[lo]) > 0
    flagged = beyond & covered

    spans: list[tuple[float, float]] = []
    tolerated = max(window_s - min_duration_s, 0.0)
    for a, b in runs(flagged):
        start, end = float(t[a]), float(t[b - 1] + dt)
        if spans and start - spans[-1][1] <= tolerated + 1e-9:
            spans[-1] = (spans[-1][0], end)
        else:
            spans.append((start, end))
    return Persistence(
        flagged=bool(flagged.any()),
        time_beyond_s=time_beyond,
        observed_s=observed_s,
        fraction_beyond=time_beyond / observed_s if observed_s > 0 else None,
        longest_run_s=float(longest),
        first_flag_s=spans[0][0] if spans else None,
        spans=spans,
    )
