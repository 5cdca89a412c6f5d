"""Binary-classification metrics and bootstrap confidence intervals that resample subjects,
not rows: rows of one subject are not independent, and resampling them separately makes an
interval look narrower than the data support."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy.stats import rankdata

Metric = Callable[[np.ndarray, np.ndarray], float]


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y and p differ in length: {y.size} vs {p.size}")
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0/1")
    return y, p


def roc_auc(y, p) -> float:
    """Area under the ROC curve (Mann-Whitney form, ties count one half); NaN with one class."""
    y, p = _check(y, p)
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def balanced_accuracy(y, p, threshold: float = 0.5) -> float:
    """Mean of sensitivity and specificity when `p >= threshold` is called positive."""
    y, p = _check(y, p)
    pos, neg = y == 1, y == 0
    if not pos.any() or not neg.any():
        return float("nan")
    pred = p >= threshold
    return float((pred[pos].mean() + (~pred[neg]).mean()) / 2)


def sensitivity_at_specificity(y, p, specificity: float = 0.9) -> float:
    """Highest sensitivity among thresholds whose specificity is at least `specificity`
    (calling `p >= t` positive, t running over the observed scores and +inf)."""
    y, p = _check(y, p)
    pos = np.sort(p[y == 1])
    neg = np.sort(p[y == 0])
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    thresholds = np.append(np.unique(p), np.inf)
    fpr = (neg.size - np.searchsorted(neg, thresholds, side="left")) / neg.size
    tpr = (pos.size - np.searchsorted(pos, thresholds, side="left")) / pos.size
    ok = fpr <= 1.0 - specificity + 1e-12
    return float(tpr[ok].max())


def sensitivity_at_90_specificity(y, p) -> float:
    return sensitivity_at_specificity(y, p, 0.9)


def brier(y, p) -> float:
    """Mean squared difference between probability and outcome (lower is better)."""
    y, p = _check(y, p)
    if y.size == 0:
        return float("nan")
    return float(np.mean((p - y) ** 2))


METRICS: dict[str, Metric] = {
    "roc_auc": roc_auc,
    "balanced_accuracy": balanced_accuracy,
    "sensitivity_at_90_specificity": sensitivity_at_90_specificity,
    "brier": brier,
}
# Whether a larger value is better, for model selection and reports.
HIGHER_IS_BETTER = {
    "roc_auc": True,
    "balanced_accuracy": True,
    "sensitivity_at_90_specificity": True,
    "brier": False,
}


class Interval(NamedTuple):
    value: float
    lo: float
    hi: float


def _resolve(metric: str | Metric) -> Metric:
    if isinstance(metric, str):
        try:
            return METRICS[metric]
        except KeyError:
            raise KeyError(f"unknown metric {metric!r}; known: {sorted(METRICS)}") from None
    return metric


def bootstrap_ci(
    y,
    p,
    metric: str | Metric,
    n_boot: int = 1000,
    seed: int = 0,
    groups: Sequence | None = None,
    level: float = 0.95,
) -> Interval:
    """Point estimate and percentile bootstrap interval of `metric(y, p)`.

    With `groups`, whole groups are drawn with replacement (a cluster bootstrap), so that
    a subject's rows enter or leave a resample together. Resamples holding one class only
    (where AUC and the like are undefined) are skipped; the interval is NaN when fewer than
    ten resamples were usable.
    """
    fn = _resolve(metric)
    y, p = _check(y, p)
    value = fn(y, p)
    rng = np.random.default_rng(seed)
    if groups is None:
        members = [np.array([i]) for i in range(y.size)]
    else:
        g = np.asarray(groups)
        if g.shape[0] != y.size:
            raise ValueError("groups must have one entry per row")
        _, inverse = np.unique(g, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse)
        members = np.split(order, np.cumsum(counts)[:-1])
    k = len(members)
    if k == 0:
        return Interval(value, float("nan"), float("nan"))

    stats = []
    for _ in range(n_boot):
        pick = rng.integers(0, k, size=k)
        idx = np.concatenate([members[j] for j in pick])
        yb = y[idx]
        if yb.min() == yb.max():
            continue
        s = fn(yb, p[idx])
        if np.isfinite(s):
            stats.append(s)
    if len(stats) < 10:
        return Interval(value, float("nan"), float("nan"))
    tail = (1.0 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return Interval(float(value), float(lo), float(hi))
