"""A research risk signal from one face's measurements: the trained classifier's probability
when there is one, else a rule-based score from how far the main measures go beyond healthy
ranges. Never a diagnosis; the reasons say in words what drove the number."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl


@dataclass(frozen=True)
class Measure:
    label: str  # in words, for reasons
    unit: str  # printed after the value ("" for unitless indices)
    limit: float  # healthy faces stay within |value| <= limit
    negative: str | None = None  # what a negative value means (diff = left - right)
    positive: str | None = None


# Provisional healthy limits, used until ranges learned from unaffected faces
# (`healthy_ranges_from_data`) replace them. Healthy faces are not symmetric, so none is zero:
# - mouth-corner height difference: a few tenths of a mm to ~1 mm at rest in healthy adults;
#   1.5 mm leaves room for landmark noise at typical photo resolution.
# - palpebral fissure (eye opening) difference: ~1 mm is common in healthy faces; a 2 mm
#   difference is the usual clinical mark of ptosis, so 1.2 mm sits between.
# - brow height difference: brows are the least symmetric region at rest, 2 mm.
# - forehead-sparing index: a 0..1 index; above 0.5 the lower face is clearly more
#   asymmetric than the brow, the central (stroke-like) pattern.
DEFAULT_MEASURES: dict[str, Measure] = {
    "mouth_corner_height_diff_mm": Measure(
        "mouth-corner height difference", "mm", 1.5, "left lower", "right lower"
    ),
    "mouth_corner_midline_diff_mm": Measure(
        "mouth-corner distance to the midline, difference",
        "mm",
        2.0,
        "left corner nearer the midline",
        "right corner nearer the midline",
    ),
    "mouth_tilt_deg": Measure("mouth tilt", "deg", 3.0),
    "eye_opening_diff_mm": Measure(
        "eye-opening difference", "mm", 1.2, "left eye narrower", "right eye narrower"
    ),
    "brow_height_diff_mm": Measure(
        "brow height difference", "mm", 2.0, "left brow lower", "right brow lower"
    ),
    "bs_mouthSmile_asym": Measure(
        "smile asymmetry", "", 0.3, "left side moves less", "right side moves less"
    ),
    "forehead_sparing_index": Measure("forehead-sparing index", "", 0.5),
}

# Level boundaries on the 0..1 score. The rule-based score crosses LEVELS[0] when a measure
# reaches its healthy limit and LEVELS[1] at twice the limit.
LEVELS = (0.3, 0.6)


def level_of(score: float, levels: tuple[float, float] = LEVELS) -> str:
    if score >= levels[1]:
        return "high"
    if score >= levels[0]:
        return "elevated"
    return "low"


def measure_score(value: float, limit: float) -> float:
    """0..1, continuous and non-decreasing in |value|: linear up to 0.3 at the limit, to 0.6
    at twice the limit, then approaching 1."""
    r = abs(value) / limit
    if r <= 1:
        return LEVELS[0] * r
    if r <= 2:
        return LEVELS[0] + (LEVELS[1] - LEVELS[0]) * (r - 1)
    return LEVELS[1] + (1 - LEVELS[1]) * (1 - math.exp(-(r - 2)))


def _lookup(features: Mapping[str, object], name: str) -> float | None:
    """The measure's value, also under a per-media summary name (`<name>_median`)."""
    for key in (name, f"{name}_median"):
        v = features.get(key)
        if v is None:
            continue
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            return f
    return None


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 1 else f"{x:.2f}"


def _reason(m: Measure, value: float) -> str:
    unit = f" {m.unit}" if m.unit else ""
    side = m.negative if value < 0 else m.positive
    side = f" ({side})" if side and value != 0 else ""
    return (
        f"{m.label} {_fmt(abs(value))}{unit}{side}, beyond the healthy range of "
        f"{_fmt(m.limit)}{unit}"
    )


def measures_with_limits(healthy_ranges: Mapping[str, float] | None) -> dict[str, Measure]:
    """The default measures with limits overridden by `healthy_ranges` (measure -> limit)."""
    out = dict(DEFAULT_MEASURES)
    for name, limit in (healthy_ranges or {}).items():
        if not (limit and math.isfinite(limit) and limit > 0):
            raise ValueError(f"healthy limit for {name} must be positive, got {limit}")
        base = out.get(name, Measure(name.replace("_", " "), "", float(limit)))
        out[name] = Measure(base.label, base.unit, float(limit), base.negative, base.positive)
    return out


def rule_based_score(
    features: Mapping[str, object], healthy_ranges: Mapping[str, float] | None = None
) -> tuple[float, list[str], dict[str, float]]:
    """(score, reasons, per-measure scores). The score is the largest per-measure score:
    one clearly drooping mouth corner is enough to raise a flag."""
    per: dict[str, float] = {}
    reasons: list[tuple[float, str]] = []
    for name, m in measures_with_limits(healthy_ranges).items():
        v = _lookup(features, name)
        if v is None:
            continue
        s = measure_score(v, m.limit)
        per[name] = s
        if abs(v) > m.limit:
            reasons.append((s, _reason(m, v)))
    score = max(per.values(), default=0.0)
    return score, [r for _, r in sorted(reasons, key=lambda t: -t[0])], per


def risk_signal(
    features: Mapping[str, object],
    model=None,
    feature_cols: list[str] | None = None,
    healthy_ranges: Mapping[str, float] | None = None,
    model_id: str | None = None,
) -> dict:
    """`{"score", "level", "model", "reasons"}` for one face.

    With a fitted `model` (and its `feature_cols`), the score is its predicted probability
    (missing features go in as NaN; both candidate models accept that) and `model` is
    `model_id`; the measures beyond their healthy range are still listed as reasons.
    Without one, the rule-based score is used and `model` is "rule-based".
    """
    rule_score, reasons, _ = rule_based_score(features, healthy_ranges)
    if model is not None:
        if not feature_cols:
            raise ValueError("feature_cols are needed to score with a model")
        row = np.array([[_lookup(features, c) for c in feature_cols]], dtype=np.float64)
        score = float(model.predict_proba(row)[0, 1])
        missing = int(np.isnan(row).sum())
        lead = f"classifier probability {score:.2f}"
        if missing:
            lead += f" ({missing} of {len(feature_cols)} features missing)"
        reasons = [lead, *reasons]
        source = model_id or type(model).__name__
    else:
        score = rule_score
        source = "rule-based"
    if not reasons or (model is not None and len(reasons) == 1):
        reasons.append("all measures within their healthy ranges")
    return {
        "score": round(min(max(score, 0.0), 1.0), 4),
        "level": level_of(score),
        "model": source,
        "reasons": reasons,
    }


def healthy_ranges_from_data(
    df: pl.DataFrame,
    measures: Iterable[str] | None = None,
    quantile: float = 0.95,
    min_rows: int = 5,
) -> dict[str, float]:
    """Healthy limits learned from unaffected faces: the `quantile` of |value| per measure.

    Pass rows of unaffected (noStroke) faces only. Measures with fewer than `min_rows`
    values, or a zero quantile, are left out (the defaults then apply).
    """
    names = list(measures) if measures is not None else list(DEFAULT_MEASURES)
    out: dict[str, float] = {}
    for name in names:
        if name not in df.columns:
            continue
        v = df[name].cast(pl.Float64).drop_nulls().drop_nans().abs()
        if v.len() < min_rows:
            continue
        q = float(v.quantile(quantile, interpolation="linear"))
        if q > 0 and math.isfinite(q):
            out[name] = q
    return out
