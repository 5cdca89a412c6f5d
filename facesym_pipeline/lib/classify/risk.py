"""A research risk signal calibrated on real people. Never a diagnosis.

Each risk measure is first expressed as a deviation from the normative population for the
face's own expression and pose (`normative.deviations`: |value| / healthy p95, so 1.0 sits
at the healthy limit). Two scorers combine the deviations:
- `rule`: the largest deviation (one clearly drooping mouth corner is enough);
- `logistic`: a logistic regression on log deviations, trained on the FIT people's
  originals (0) and their injected asymmetries (1), with folds grouped by person.
The levels are defined by the normative population, not by fixed numbers: `elevated` from
the score that 90 % of healthy fit people stay below, `high` from 97.5 % (out-of-fold
scores for the logistic model, so a person's own photo never sets their level). Without a
fitted risk model the rule scorer is used with its documented default levels (deviation 1
and 2, the registry's limits and twice them), and the report says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold

from facesym_pipeline.lib.measure.registry import measure

# The measures a paramedic's face check looks at: mouth droop and tilt, eyelids, brows,
# and how evenly the smile moves.
RISK_MEASURES: tuple[str, ...] = (
    "mouth_corner_height_diff_mm",
    "mouth_tilt_deg",
    "eye_opening_diff_mm",
    "mrd1_diff_mm",
    "brow_height_diff_mm",
    "bs_mouthSmile_asym",
)
ELEVATED_QUANTILE, HIGH_QUANTILE = 0.90, 0.975
DEFAULT_LEVELS = (1.0, 2.0)  # rule scorer without calibration: at the limit, twice it
# Deviations enter the logistic model as log(dev + floor): a floor keeps exact symmetry
# (dev 0) finite and compresses the noise-level differences below it.
LOG_FLOOR = 0.1
RISK_MODEL_SCHEMA = {
    "method": pl.String,
    "measures": pl.List(pl.String),
    "coef": pl.List(pl.Float64),
    "intercept": pl.Float64,
    "fill": pl.List(pl.Float64),
    "elevated_at": pl.Float64,
    "high_at": pl.Float64,
    "calibrated_on": pl.String,
}


def dev_columns(measures=RISK_MEASURES) -> list[str]:
    return [f"{m}_dev" for m in measures]


@dataclass(frozen=True)
class RiskModel:
    method: str  # "rule" or "logistic"
    measures: tuple[str, ...]
    coef: tuple[float, ...]  # logistic, on log(dev + LOG_FLOOR)
    intercept: float
    fill: tuple[float, ...]  # deviation used where a measure is missing (logistic)
    elevated_at: float
    high_at: float
    calibrated_on: str

    def scores(self, devs: np.ndarray) -> np.ndarray:
        """Scores of rows of deviations (columns in `measures` order, NaN = missing)."""
        devs = np.asarray(devs, dtype=np.float64).reshape(-1, len(self.measures))
        if self.method == "rule":
            return np.nan_to_num(np.nanmax(np.where(np.isnan(devs), -np.inf, devs), axis=1),
                                 neginf=0.0)  # fmt: skip
        filled = np.where(np.isnan(devs), np.asarray(self.fill), devs)
        z = np.log(filled + LOG_FLOOR) @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def level(self, score: float) -> str:
        if score >= self.high_at:
            return "high"
        if score >= self.elevated_at:
            return "elevated"
        return "low"

    def to_table(self) -> pl.DataFrame:
        row = asdict(self) | {"measures": list(self.measures), "coef": list(self.coef),
                              "fill": list(self.fill)}  # fmt: skip
        return pl.DataFrame([row], schema=RISK_MODEL_SCHEMA)

    @classmethod
    def from_table(cls, table: pl.DataFrame) -> RiskModel:
        r = table.row(0, named=True)
        return cls(r["method"], tuple(r["measures"]), tuple(r["coef"]), r["intercept"],
                   tuple(r["fill"]), r["elevated_at"], r["high_at"], r["calibrated_on"])  # fmt: skip


DEFAULT_RISK_MODEL = RiskModel(
    "rule", RISK_MEASURES, (), 0.0, (), *DEFAULT_LEVELS,
    "uncalibrated: registry default limits, levels at 1x and 2x the limit",
)  # fmt: skip


def deviation_matrix(frame: pl.DataFrame, measures=RISK_MEASURES) -> np.ndarray:
    cols = [pl.col(c).cast(pl.Float64) if c in frame.columns else pl.lit(None, pl.Float64)
            for c in dev_columns(measures)]  # fmt: skip
    return frame.select(cols).fill_null(np.nan).to_numpy()


def media_deviations(frame_devs: pl.DataFrame, measures=RISK_MEASURES) -> pl.DataFrame:
    """One row per media: the median over its frames of each measure's deviation (an
    image has one frame), keyed by whatever of dataset/media_id is present."""
    keys = [k for k in ("dataset", "media_id") if k in frame_devs.columns]
    present = [c for c in dev_columns(measures) if c in frame_devs.columns]
    return frame_devs.group_by(keys, maintain_order=True).agg(
        pl.col(c).fill_nan(None).median() for c in present
    )


def level_thresholds(healthy_scores: np.ndarray) -> tuple[float, float]:
    s = np.asarray(healthy_scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    return float(np.quantile(s, ELEVATED_QUANTILE)), float(np.quantile(s, HIGH_QUANTILE))


def _fit_logistic(x: np.ndarray, y: np.ndarray, fill: np.ndarray, seed: int):
    feats = np.log(np.where(np.isnan(x), fill, x) + LOG_FLOOR)
    mean, std = feats.mean(axis=0), feats.std(axis=0) + 1e-9
    model = LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000, random_state=seed)
    model.fit((feats - mean) / std, y)
    coef = model.coef_[0] / std
    return tuple(coef.tolist()), float(model.intercept_[0] - (coef * mean).sum())


def fit_risk_models(
    devs: np.ndarray, y: np.ndarray, subjects: np.ndarray, seed: int = 0, n_splits: int = 5
) -> tuple[dict[str, RiskModel], pl.DataFrame]:
    """Both scorers fitted on FIT people's media (`devs` rows, `y` 0 original / 1 injected,
    `subjects` the person), with their levels from the healthy rows, and the out-of-fold
    scores (person-grouped folds) in a table: subject_id, label, method, score."""
    y = np.asarray(y, dtype=int)
    subjects = np.asarray(subjects)
    n_people = len(np.unique(subjects))
    fill = np.nanmedian(np.where(y[:, None] == 0, devs, np.nan), axis=0)
    fill = np.where(np.isfinite(fill), fill, 1.0)
    oof = np.full(y.size, np.nan)
    folds = StratifiedGroupKFold(n_splits=min(n_splits, n_people), shuffle=True,
                                 random_state=seed)  # fmt: skip
    for train, test in folds.split(devs, y, subjects):
        coef, intercept = _fit_logistic(devs[train], y[train], fill, seed)
        fold_model = RiskModel("logistic", RISK_MEASURES, coef, intercept, tuple(fill), 0, 0, "")
        oof[test] = fold_model.scores(devs[test])
    coef, intercept = _fit_logistic(devs, y, fill, seed)
    rule = DEFAULT_RISK_MODEL
    rule_scores = rule.scores(devs)
    on = f"{n_people} fit people of the normative population"
    models = {
        "rule": RiskModel("rule", RISK_MEASURES, (), 0.0, (),
                          *level_thresholds(rule_scores[y == 0]), on),
        "logistic": RiskModel("logistic", RISK_MEASURES, coef, intercept, tuple(fill.tolist()),
                              *level_thresholds(oof[y == 0]), on + " (out-of-fold levels)"),
    }  # fmt: skip
    scores = pl.concat(
        pl.DataFrame({"subject_id": subjects.astype(str), "label": y, "method": method,
                      "score": s})
        for method, s in (("rule", rule_scores), ("logistic", oof))
    )  # fmt: skip
    return models, scores


def _fmt(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 1 else f"{x:.2f}"


def _reason(name: str, value: float, limit: float) -> str:
    m = measure(name)
    side = m.negative if value < 0 else m.positive
    side = f" ({side})" if side and value != 0 else ""
    return (
        f"{m.label} {_fmt(abs(value))}{m.unit_suffix}{side}, beyond the healthy range of "
        f"{_fmt(limit)}{m.unit_suffix}"
    )


def risk_signal(values: Mapping[str, object], devs: Mapping[str, object], model: RiskModel) -> dict:
    """`{"score", "level", "model", "calibration", "reasons"}` for one face.

    `values`: each measure's value (for the words); `devs`: `<measure>_dev` deviations.
    Reasons name every measure beyond its healthy range, largest deviation first."""
    row = np.array([[_number(devs.get(c)) for c in dev_columns(model.measures)]])
    score = float(model.scores(row)[0])
    reasons = []
    for name, dev in sorted(
        zip(model.measures, row[0], strict=True), key=lambda t: -np.nan_to_num(t[1])
    ):
        value = _number(values.get(name))
        if np.isfinite(dev) and dev > 1.0 and np.isfinite(value) and value != 0:
            reasons.append(_reason(name, value, abs(value) / dev))
    if not reasons:
        reasons.append("all measures within their healthy ranges")
    return {
        "score": round(score, 4),
        "level": model.level(score),
        "model": model.method,
        "calibration": model.calibrated_on,
        "reasons": reasons,
    }


def _number(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan
