"""Expression-aware handling of asymmetry.

During a smile or an eye closure the static L-R offsets change because each side moves.
What matters clinically is whether both sides move (range of motion), not that they end up at
slightly different heights: a healthy person's lopsided smile is not a droop. So, per frame,
an expression's left/right balance is measured from blendshapes (or per-side mouth-corner
excursions when available); while both sides move (weaker side >= `min_rom_ratio` of the
stronger), the part of the affected measures that follows the expression's intensity is
removed, keeping whatever offset is there at rest too. When one side barely moves the raw
value is kept: that is evidence.
"""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl

from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.persistence import runs

# expression -> (left activation, right activation, precomputed asymmetry) columns
EXPRESSION_SOURCES: dict[str, tuple[str, str, str]] = {
    "smile": ("bs_mouthSmileLeft", "bs_mouthSmileRight", "bs_mouthSmile_asym"),
    "eye_closure": ("bs_eyeBlinkLeft", "bs_eyeBlinkRight", "bs_eyeBlink_asym"),
}
# Geometric excursions from the rest frame (mm), preferred over blendshapes when present.
EXCURSION_SOURCES: dict[str, tuple[str, str]] = {
    "smile": ("mouth_corner_excursion_left_mm", "mouth_corner_excursion_right_mm"),
}
_MIN_EXCURSION_MM = 1.0
# The expression's gain is only identifiable when its intensity changes within the fitted
# frames beyond what the per-episode lines absorb: an expression held for the whole video
# has no resting reference, and fitting its near-constant intensity would turn noise into
# tens of millimetres of "correction". Below this RMS change, as a fraction of the mean
# intensity, the values are returned unchanged.
MIN_INTENSITY_CHANGE = 0.2
# Measures whose static value an expression moves (a smile also narrows the eyes and lifts
# the alae).
EXPRESSION_MEASURES: dict[str, tuple[str, ...]] = {
    "smile": (
        "mouth_corner_height_diff_mm",
        "mouth_corner_midline_diff_mm",
        "alar_height_diff_mm",
        "eye_opening_diff_mm",
        "mrd1_diff_mm",
    ),
    "eye_closure": ("eye_opening_diff_mm", "mrd1_diff_mm"),
}


def rom_ratio(balance: np.ndarray) -> np.ndarray:
    """Weaker/stronger side ratio from a balance (L-R)/(L+R) in [-1, 1]."""
    b = np.abs(np.asarray(balance, dtype=float))
    return (1.0 - b) / (1.0 + b)


def expression_balance(
    grid: pl.DataFrame, expression: str, gate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(active mask, signed L/R balance, intensity) of one expression per grid point.

    Balance is (L-R)/(|L|+|R|): +1 only the subject's left moves, -1 only the right, NaN at
    rest. Intensity is the mean of both sides (0 at rest). Sources in order of preference:
    per-side excursions in mm, raw per-side blendshape scores, the precomputed gated `_asym`
    column (assumed null at rest; intensity is then 1 while active). With none of them the
    expression is never active.
    """
    n = grid.height
    active = np.zeros(n, dtype=bool)
    balance = np.full(n, np.nan)
    intensity = np.zeros(n)

    def col(name: str) -> np.ndarray:
        return grid[name].cast(pl.Float64).to_numpy().astype(float)

    ex = EXCURSION_SOURCES.get(expression)
    left, right, asym = EXPRESSION_SOURCES[expression]
    if ex and all(c in grid.columns for c in ex):
        el, er = np.abs(col(ex[0])), np.abs(col(ex[1]))
        active = np.nan_to_num(np.maximum(el, er)) > _MIN_EXCURSION_MM
    elif left in grid.columns and right in grid.columns:
        el, er = np.clip(col(left), 0, None), np.clip(col(right), 0, None)
        active = np.nan_to_num(np.maximum(el, er)) > gate
    elif asym in grid.columns:
        a = col(asym)
        active = np.isfinite(a)
        balance[active] = np.clip(a[active], -1, 1)
        return active, balance, active.astype(float)
    else:
        return active, balance, intensity
    with np.errstate(invalid="ignore", divide="ignore"):
        balance = np.where(active, (el - er) / (el + er), np.nan)
    intensity = np.nan_to_num((el + er) / 2.0)
    return active, balance, intensity


def dilate(mask: np.ndarray, fps: float, margin_s: float) -> np.ndarray:
    """Extend True runs by `margin_s` seconds on both sides."""
    k = int(round(margin_s * fps))
    if k <= 0 or not mask.any():
        return mask.copy()
    # "full" then the centre slice: numpy's "same" returns the kernel's length when the
    # kernel is longer than a very short series.
    hits = np.convolve(mask.astype(int), np.ones(2 * k + 1, dtype=int), mode="full")
    return hits[k : k + mask.size] > 0


def remove_expression_component(
    t_s: np.ndarray,
    values: np.ndarray,
    replace: np.ndarray,
    intensity: np.ndarray,
    context_s: float = 1.0,
    min_samples: int = 3,
) -> np.ndarray:
    """Subtract the part of `values` that follows the expression's intensity.

    Each expression episode (a run of `replace`) is fitted together with `context_s` seconds
    of resting frames on either side as value = a_e + b_e * t + gain * intensity, the gain
    shared by all episodes of the video (least squares). The per-episode line absorbs a
    slowly changing resting level (a growing droop), so subtracting gain x intensity keeps
    whatever offset is there at rest and during the expression alike. With too few samples
    the values are returned unchanged.
    """
    t = np.asarray(t_s, dtype=float)
    v = np.asarray(values, dtype=float)
    episodes = runs(replace)
    rows: list[np.ndarray] = []
    n_ep = len(episodes)
    for e, (a, b) in enumerate(episodes):
        near = (t >= t[a] - context_s) & (t <= t[b - 1] + context_s) & np.isfinite(v)
        idx = np.flatnonzero(near)
        rows.append(np.column_stack([idx, np.full(idx.size, e)]))
    if not rows:
        return v.copy()
    used = np.concatenate(rows)
    if used.shape[0] < min_samples + 2 * n_ep or not (intensity[used[:, 0]] > 0).any():
        return v.copy()
    idx, ep = used[:, 0], used[:, 1]
    design = np.zeros((idx.size, 2 * n_ep + 1))
    design[np.arange(idx.size), 2 * ep] = 1.0
    t_c = t[idx] - np.array([t[a] for a, _ in episodes])[ep]
    design[np.arange(idx.size), 2 * ep + 1] = t_c
    design[:, -1] = intensity[idx]
    if not _gain_identifiable(design):
        return v.copy()
    coef, *_ = np.linalg.lstsq(design, v[idx], rcond=None)
    gain = float(coef[-1])
    out = v.copy()
    fix = replace & np.isfinite(v)
    out[fix] = v[fix] - gain * intensity[fix]
    return out


def _gain_identifiable(design: np.ndarray) -> bool:
    """Whether the intensity column (last) varies beyond the per-episode lines (the rest)."""
    x, lines = design[:, -1], design[:, :-1]
    fit, *_ = np.linalg.lstsq(lines, x, rcond=None)
    change = float(np.sqrt(np.mean((x - lines @ fit) ** 2)))
    return change >= MIN_INTENSITY_CHANGE * float(np.mean(np.abs(x)))


def adjust_for_expressions(
    grid: pl.DataFrame, values: dict[str, np.ndarray], fps: float, config: TemporalConfig
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Expression-adjusted copies of `values` (measure -> array on the grid) and per-frame
    columns `<expr>_active`, `<expr>_balance`, `<expr>_adjusted` for the series table.
    Expressions are removed one after the other (a smile, then eye closure)."""
    out = {m: np.asarray(v, dtype=float).copy() for m, v in values.items()}
    cols: dict[str, np.ndarray] = {}
    t = grid["t_s"].to_numpy().astype(float)
    for expr, measures in EXPRESSION_MEASURES.items():
        active, balance, intensity = expression_balance(grid, expr, config.activation_gate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            both_move = active & (rom_ratio(balance) >= config.min_rom_ratio)
        adjusted = dilate(both_move, fps, config.expression_margin_s)
        cols[f"{expr}_active"] = active
        cols[f"{expr}_balance"] = balance
        cols[f"{expr}_adjusted"] = adjusted
        for m in measures:
            if m in out and adjusted.any():
                out[m] = remove_expression_component(t, out[m], adjusted, intensity)
    return out, cols


def rom_summary(series: pl.DataFrame, expression: str) -> dict[str, float | str | None]:
    """Per-video range-of-motion summary of one expression from a `temporal_series`:
    seconds active, median weaker/stronger ratio and which side moves less."""
    act_col, bal_col = f"{expression}_active", f"{expression}_balance"
    if act_col not in series.columns:
        return {"active_s": 0.0, "rom_ratio": None, "weaker_side": None}
    active = series[act_col].to_numpy().astype(bool)
    bal = series[bal_col].cast(pl.Float64).to_numpy().astype(float)[active]
    bal = bal[np.isfinite(bal)]
    t = series["t_s"].to_numpy()
    dt = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    if bal.size == 0:
        return {"active_s": 0.0, "rom_ratio": None, "weaker_side": None}
    med = float(np.median(bal))
    return {
        "active_s": float(active.sum() * dt),
        "rom_ratio": float(rom_ratio(np.array([med]))[0]),
        "weaker_side": "right" if med > 0 else "left" if med < 0 else None,
    }
