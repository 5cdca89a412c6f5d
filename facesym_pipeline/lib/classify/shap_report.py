"""SHAP explanation of the chosen classifier: a summary (beeswarm) plot written as a PNG and
a markdown table of the features that move the prediction most."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: this runs in workers and CI without a display

import warnings  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

with warnings.catch_warnings():
    # shap's colour maps use matplotlib calls that newer releases flag at import time
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    import shap  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402


@dataclass
class ShapResult:
    values: np.ndarray  # (n_rows, n_features), log-odds contributions
    base_value: float  # log-odds when no feature is known; values sum to log-odds minus this
    display_X: np.ndarray  # feature values shown as colour (imputed, original units)
    feature_names: list[str]
    importance: pl.DataFrame  # feature, mean_abs_shap, direction; sorted, largest first
    explainer: str  # which SHAP explainer produced the values


def _background(X: np.ndarray, size: int, seed: int) -> np.ndarray:
    if X.shape[0] <= size:
        return X
    rng = np.random.default_rng(seed)
    return X[np.sort(rng.choice(X.shape[0], size=size, replace=False))]


def shap_values(
    model, X, feature_names: list[str], background_size: int = 100, seed: int = 0
) -> ShapResult:
    """SHAP values on the log-odds scale.

    A logistic-regression pipeline is explained by `LinearExplainer` on its standardised,
    imputed inputs (exact for a linear model); a histogram gradient-boosting model by
    `TreeExplainer` (exact for trees, NaN handled by the trees' own missing-value branches);
    anything else by the model-agnostic permutation explainer over a small background sample.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.shape[1] != len(feature_names):
        raise ValueError("one feature name per column is needed")

    if isinstance(model, Pipeline) and isinstance(model[-1], LogisticRegression):
        pre = model[:-1]
        Z = pre.transform(X)
        explainer = shap.LinearExplainer(model[-1], _background(Z, background_size, seed))
        values = np.asarray(explainer.shap_values(Z))
        base = explainer.expected_value
        # colour by the imputed values in original units; scaling is monotone so high/low match
        display = model[0].transform(X) if len(pre) > 1 else Z
        kind = "linear"
    elif isinstance(model, HistGradientBoostingClassifier):
        explainer = shap.TreeExplainer(model)
        values = np.asarray(explainer.shap_values(X))
        base = explainer.expected_value
        display = X
        kind = "tree"
    else:
        bg = _background(np.nan_to_num(X, nan=np.nanmedian(X, axis=0)), background_size, seed)

        def logit(data: np.ndarray) -> np.ndarray:
            p = np.clip(model.predict_proba(data)[:, 1], 1e-9, 1 - 1e-9)
            return np.log(p / (1 - p))

        explainer = shap.Explainer(logit, bg, feature_names=feature_names, seed=seed)
        explained = explainer(X)
        values = np.asarray(explained.values)
        base = explained.base_values
        display = X
        kind = "permutation"
    if values.ndim == 3:  # (n, f, classes) from some explainers: keep the positive class
        values = values[..., -1]
    base = np.asarray(base, dtype=np.float64).ravel()
    return ShapResult(
        values=values,
        base_value=float(base[-1] if base.size <= 2 else base.mean()),
        display_X=np.asarray(display, dtype=np.float64),
        feature_names=list(feature_names),
        importance=importance_table(values, display, feature_names),
        explainer=kind,
    )


def importance_table(values: np.ndarray, X: np.ndarray, feature_names: list[str]) -> pl.DataFrame:
    """Mean |SHAP| per feature and the direction of its effect (the sign of the correlation
    between a feature's value and its contribution: + means higher values raise the score)."""
    mean_abs = np.abs(values).mean(axis=0)
    direction = []
    for j in range(values.shape[1]):
        x, s = X[:, j], values[:, j]
        ok = np.isfinite(x) & np.isfinite(s)
        if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(s[ok]) == 0:
            direction.append(0.0)
        else:
            direction.append(float(np.sign(np.corrcoef(x[ok], s[ok])[0, 1])))
    return pl.DataFrame(
        {"feature": list(feature_names), "mean_abs_shap": mean_abs, "direction": direction}
    ).sort(["mean_abs_shap", "feature"], descending=[True, False])


def top_features_markdown(importance: pl.DataFrame, k: int = 10) -> str:
    """Markdown table of the k features with the largest mean |SHAP|."""
    words = {1.0: "higher value -> higher score", -1.0: "higher value -> lower score"}
    lines = [
        "| rank | feature | mean abs SHAP (log-odds) | effect |",
        "|---:|---|---:|---|",
    ]
    for i, r in enumerate(importance.head(k).iter_rows(named=True), start=1):
        effect = words.get(r["direction"], "mixed")
        lines.append(f"| {i} | `{r['feature']}` | {r['mean_abs_shap']:.4f} | {effect} |")
    return "\n".join(lines)


def write_summary_plot(result: ShapResult, path: str | Path, max_display: int = 15) -> Path:
    """Beeswarm summary plot as a PNG at `path` (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    plt.close("all")
    with warnings.catch_warnings():
        # the beeswarm jitter seeds numpy's global RNG, which numpy now flags
        warnings.simplefilter("ignore", FutureWarning)
        shap.summary_plot(
            result.values,
            features=result.display_X,
            feature_names=result.feature_names,
            max_display=max_display,
            show=False,
            plot_size=(8.0, 0.4 * min(max_display, len(result.feature_names)) + 1.5),
        )
    fig = plt.gcf()
    fig.suptitle(f"SHAP summary ({result.explainer} explainer, log-odds)", fontsize=10)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def shap_report(
    model,
    X,
    feature_names: list[str],
    png_path: str | Path,
    top_k: int = 10,
    seed: int = 0,
) -> tuple[ShapResult, str]:
    """Explain `model` on `X`, write the summary PNG, and return the values with the
    top-k markdown table."""
    result = shap_values(model, X, feature_names, seed=seed)
    write_summary_plot(result, png_path)
    return result, top_features_markdown(result.importance, top_k)
