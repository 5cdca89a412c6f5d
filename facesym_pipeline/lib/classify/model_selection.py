"""A small, honest asymmetry classifier: two candidate models compared by subject-grouped
cross-validation, with the same figures under random folds shown next to them so the
optimism of leaking subjects across folds is visible."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from facesym_pipeline.lib.classify.metrics import HIGHER_IS_BETTER, METRICS, bootstrap_ci

LABEL_COL = "label"
GROUP_COL = "group"
SELECTION_METRIC = "roc_auc"
MODEL_METRICS_SCHEMA = {
    "model": pl.String,
    "cv_scheme": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_samples": pl.Int64,
    "n_groups": pl.Int64,
}


def candidate_models(seed: int = 0) -> dict[str, BaseEstimator]:
    """The models compared: a regularised logistic regression (median-imputed, standardised)
    and a shallow gradient-boosted tree model that takes missing values as they are.

    Both are kept small on purpose: the labelled sets have tens of subjects at most.
    """
    logreg = Pipeline(
        [
            # keep_empty_features keeps the column count fixed, so names line up in SHAP
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(C=0.5, max_iter=2000)),
        ]
    )
    gbt = HistGradientBoostingClassifier(
        max_depth=3,
        max_iter=100,
        learning_rate=0.1,
        min_samples_leaf=10,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )
    return {"logreg": logreg, "gbt": gbt}


def choose_n_splits(groups, y=None, max_splits: int = 5) -> int:
    """Number of folds: at least two test groups per fold where there are enough groups,
    never more folds than groups, never fewer than two; with `y`, also no more folds than
    groups of the rarer class (otherwise some test folds could hold no positive at all)."""
    n_groups = len(np.unique(np.asarray(groups)))
    if n_groups < 2:
        raise ValueError(f"need at least 2 groups for cross-validation, got {n_groups}")
    n = n_groups // 2 if n_groups >= 4 else n_groups
    if y is not None:
        y = np.asarray(y)
        g = np.asarray(groups)
        per_class = [len(np.unique(g[y == c])) for c in np.unique(y)]
        if len(per_class) == 2:
            n = min(n, max(2, min(per_class)))
    return int(max(2, min(max_splits, n, n_groups)))


@dataclass(frozen=True)
class CVPredictions:
    proba: np.ndarray  # out-of-fold probability of class 1, one per row
    fold: np.ndarray  # the fold in which each row was a test row


# Hundreds of rows: OpenMP thread start-up costs far more than the work (the tree model fits
# about 20x faster on one thread, and does not fight other processes for the cores).
def _one_thread():
    return threadpool_limits(limits=1)


def fit_small(model, X, y) -> BaseEstimator:
    """A fitted clone of `model`, fitted on one thread (see above)."""
    with _one_thread():
        return clone(model).fit(np.asarray(X, dtype=np.float64), np.asarray(y))


def _fit_predict_folds(model, X, y, splits) -> CVPredictions:
    proba = np.full(len(y), np.nan)
    fold = np.full(len(y), -1, dtype=np.int64)
    with _one_thread():
        for k, (train, test) in enumerate(splits):
            _fit_fold(model, X, y, train, test, proba)
            fold[test] = k
    return CVPredictions(proba=proba, fold=fold)


def _fit_fold(model, X, y, train, test, proba) -> None:
    y_train = y[train]
    if np.unique(y_train).size < 2:
        # a one-class training fold can only predict its base rate
        proba[test] = float(y_train.mean())
    else:
        keep = informative_columns(X[train])
        fitted = clone(model).fit(X[train][:, keep], y_train)
        proba[test] = fitted.predict_proba(X[test][:, keep])[:, 1]


def informative_columns(X: np.ndarray) -> np.ndarray:
    """Columns with at least two distinct finite values. A fold can leave a sparse feature
    (a blendshape that rarely activates) constant or empty; it carries nothing to learn
    there, and the histogram binning of boosted trees fails on it."""
    X = np.asarray(X, dtype=np.float64)
    keep = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        column = X[:, j]
        keep[j] = np.unique(column[np.isfinite(column)]).size >= 2
    return keep


def grouped_splits(X, y, groups, n_splits: int, seed: int = 0) -> list[tuple]:
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        # "the least populated class has only k members" is expected on small sets
        warnings.simplefilter("ignore", UserWarning)
        return list(splitter.split(X, y, groups))


def random_splits(X, y, n_splits: int, seed: int = 0) -> list[tuple]:
    minority = int(np.bincount(np.asarray(y, dtype=np.int64)).min())
    n = max(2, min(n_splits, minority))
    splitter = StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)
    return list(splitter.split(X, y))


def grouped_cv_predictions(model, X, y, groups, n_splits: int = 5, seed: int = 0) -> CVPredictions:
    """Out-of-fold probabilities from StratifiedGroupKFold: a group is never on both sides."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    return _fit_predict_folds(model, X, y, grouped_splits(X, y, np.asarray(groups), n_splits, seed))


def random_cv_predictions(model, X, y, n_splits: int = 5, seed: int = 0) -> CVPredictions:
    """Out-of-fold probabilities from plain StratifiedKFold, ignoring groups (leaky on
    purpose: the contrast with the grouped figures is the point)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    return _fit_predict_folds(model, X, y, random_splits(X, y, n_splits, seed))


def fold_leakage(groups, folds) -> list:
    """Groups that are in the test part of one fold and the training part of another, i.e.
    whose rows were assigned to more than one test fold. Must be empty for grouped CV."""
    g = np.asarray(groups)
    f = np.asarray(folds)
    seen: dict[Any, set] = {}
    for gi, fi in zip(g.tolist(), f.tolist(), strict=True):
        seen.setdefault(gi, set()).add(fi)
    return sorted(k for k, v in seen.items() if len(v) > 1)


def metric_rows(
    model: str,
    scheme: str,
    y: np.ndarray,
    proba: np.ndarray,
    groups: np.ndarray,
    n_boot: int,
    seed: int,
) -> list[dict]:
    """One `model_metrics` row per metric, with a subject-resampling bootstrap interval."""
    n_groups = len(np.unique(groups))
    rows = []
    for name in METRICS:
        ci = bootstrap_ci(y, proba, name, n_boot=n_boot, seed=seed, groups=groups)
        rows.append(
            {
                "model": model,
                "cv_scheme": scheme,
                "metric": name,
                "value": ci.value,
                "ci_low": ci.lo,
                "ci_high": ci.hi,
                "n_samples": int(y.size),
                "n_groups": int(n_groups),
            }
        )
    return rows


@dataclass
class TrainResult:
    model_name: str
    model: BaseEstimator  # fitted on all rows
    feature_cols: list[str]
    model_metrics: pl.DataFrame  # MODEL_METRICS_SCHEMA
    folds: pl.DataFrame  # row, group, label, grouped_fold, random_fold
    oof: pl.DataFrame  # row, model, cv_scheme, fold, proba
    n_splits: int
    leakage: list = field(default_factory=list)  # groups straddling grouped folds (must be [])

    def metric(self, name: str, model: str | None = None, scheme: str = "grouped") -> float:
        m = self.model_metrics.filter(
            (pl.col("model") == (model or self.model_name))
            & (pl.col("cv_scheme") == scheme)
            & (pl.col("metric") == name)
        )
        return float(m["value"][0])

    def summary(self) -> dict[str, float]:
        """Flat `<model>/<scheme>/<metric>` -> value, for metadata and sidecars."""
        return {
            f"{r['model']}/{r['cv_scheme']}/{r['metric']}": r["value"]
            for r in self.model_metrics.iter_rows(named=True)
        }


def feature_matrix(df: pl.DataFrame, feature_cols: list[str]) -> np.ndarray:
    """Float matrix with nulls (and non-finite values) as NaN."""
    missing = [c for c in feature_cols if c not in df.columns]
    if missing:
        raise KeyError(f"feature columns not in frame: {missing}")
    X = df.select(pl.col(c).cast(pl.Float64) for c in feature_cols).to_numpy()
    X = np.asarray(X, dtype=np.float64)
    X[~np.isfinite(X)] = np.nan
    return X


def _select(metrics: pl.DataFrame, names: list[str]) -> str:
    """Best grouped AUC; ties (within 0.005) go to the lower Brier score, then to the first
    (simpler) candidate."""
    grouped = metrics.filter(pl.col("cv_scheme") == "grouped")

    def val(model: str, metric: str) -> float:
        v = grouped.filter((pl.col("model") == model) & (pl.col("metric") == metric))["value"][0]
        return float(v) if v is not None and np.isfinite(v) else float("nan")

    def key(i_name):
        i, name = i_name
        auc = val(name, SELECTION_METRIC)
        br = val(name, "brier")
        sign = 1 if HIGHER_IS_BETTER[SELECTION_METRIC] else -1
        return (
            round(sign * (auc if np.isfinite(auc) else -np.inf) / 0.005),
            -(br if np.isfinite(br) else np.inf),
            -i,
        )

    return max(enumerate(names), key=key)[1]


def train_and_select(
    df: pl.DataFrame,
    feature_cols: list[str],
    *,
    label_col: str = LABEL_COL,
    group_col: str = GROUP_COL,
    max_splits: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    models: dict[str, BaseEstimator] | None = None,
) -> TrainResult:
    """Cross-validate every candidate under grouped and random folds, pick by grouped AUC,
    and refit the pick on all rows. Rows without a label are dropped. Deterministic for a
    given seed and row order."""
    data = df.filter(pl.col(label_col).is_not_null())
    y = data[label_col].cast(pl.Int64).to_numpy()
    if np.unique(y).size < 2:
        raise ValueError("training needs both classes")
    groups = data[group_col].cast(pl.String).to_numpy()
    X = feature_matrix(data, feature_cols)
    models = models if models is not None else candidate_models(seed)
    names = list(models)

    n_splits = choose_n_splits(groups, y, max_splits)
    g_splits = grouped_splits(X, y, groups, n_splits, seed)
    r_splits = random_splits(X, y, n_splits, seed)

    rows: list[dict] = []
    oof_parts: list[pl.DataFrame] = []
    folds = {}
    for name in names:
        for scheme, splits in (("grouped", g_splits), ("random", r_splits)):
            cv = _fit_predict_folds(models[name], X, y, splits)
            folds[scheme] = cv.fold
            rows += metric_rows(name, scheme, y, cv.proba, groups, n_boot, seed)
            oof_parts.append(
                pl.DataFrame(
                    {
                        "row": np.arange(y.size),
                        "model": name,
                        "cv_scheme": scheme,
                        "fold": cv.fold,
                        "proba": cv.proba,
                    }
                )
            )
    model_metrics = pl.DataFrame(rows, schema=MODEL_METRICS_SCHEMA)
    chosen = _select(model_metrics, names)
    fitted = fit_small(models[chosen], X, y)
    return TrainResult(
        model_name=chosen,
        model=fitted,
        feature_cols=list(feature_cols),
        model_metrics=model_metrics,
        folds=pl.DataFrame(
            {
                "row": np.arange(y.size),
                "group": groups,
                "label": y,
                "grouped_fold": folds["grouped"],
                "random_fold": folds["random"],
            }
        ),
        oof=pl.concat(oof_parts),
        n_splits=n_splits,
        leakage=fold_leakage(groups, folds["grouped"]),
    )
