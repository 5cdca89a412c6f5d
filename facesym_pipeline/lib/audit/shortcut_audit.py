"""The shortcut audit: any model, scored on held-out faces and on counterfactual copies of
them (`counterfactual`), with subject-resampling bootstrap intervals.

A model is a `Predictor`: a function from a list of `counterfactual.Sample` (image plus
landmarks detected on it) to one probability of class 1 per sample, NaN where it cannot
answer (for example no face found). Rows without an answer are left out of every model's
scores alike, and counted.

A model "relied on" the factor a set changes when its score there is below its
in-distribution score by more than a stated margin (`DEFAULT_MARGIN`, absolute).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import polars as pl

from facesym_pipeline.lib.audit.counterfactual import IN_DISTRIBUTION, Sample
from facesym_pipeline.lib.classify.metrics import balanced_accuracy, bootstrap_ci, roc_auc

Predictor = Callable[[Sequence[Sample]], np.ndarray]
DEFAULT_MARGIN = 0.10


def accuracy(y, p, threshold: float = 0.5) -> float:
    y = np.asarray(y).astype(np.int64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.size == 0:
        return float("nan")
    return float(np.mean((p >= threshold) == (y == 1)))


AUDIT_METRICS: dict[str, Callable] = {
    "accuracy": accuracy,
    "roc_auc": roc_auc,
    "balanced_accuracy": balanced_accuracy,
}
# What changing each set's factor tests, for the summary.
SET_FACTORS = {
    "lighting": "lighting, colour and contrast",
    "background_blur": "the background (blurred)",
    "background_grey": "the background (replaced)",
    "jpeg": "compression texture",
    "flip": "which side of the image the asymmetry is on",
    "asymmetry_removed": "class cues other than the asymmetry itself",
    "confound_broken": "the class-linked brightness/compression confound",
}
PREDICTION_SCHEMA = {
    "model": pl.String,
    "test_set": pl.String,
    "sample_id": pl.String,
    "subject_id": pl.String,
    "label": pl.Int64,
    "proba": pl.Float64,
}
AUDIT_SCHEMA = {
    "model": pl.String,
    "test_set": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n": pl.Int64,
    "n_subjects": pl.Int64,
    "n_unscored": pl.Int64,
}


def per_fold_predictor(
    predictors: Mapping[int, Predictor], subject_fold: Mapping[str, int]
) -> Predictor:
    """Route every sample to the predictor of the fold in which its subject was held out, so
    each model only ever scores subjects it was not trained on."""

    def predict(samples: Sequence[Sample]) -> np.ndarray:
        out = np.full(len(samples), np.nan)
        folds = np.array([subject_fold.get(s.subject_id, -(10**9)) for s in samples])
        for k, predictor in predictors.items():
            idx = np.flatnonzero(folds == k)
            if idx.size:
                out[idx] = predictor([samples[i] for i in idx])
        return out

    return predict


def predict_sets(
    model: str, predictor: Predictor, sets: Mapping[str, Sequence[Sample]]
) -> pl.DataFrame:
    """One row per (test set, sample): PREDICTION_SCHEMA."""
    frames = []
    for name, samples in sets.items():
        samples = list(samples)
        proba = np.asarray(predictor(samples), dtype=np.float64) if samples else np.zeros(0)
        if proba.shape != (len(samples),):
            raise ValueError(
                f"{model} returned {proba.shape} probabilities for {len(samples)} samples"
            )
        frames.append(
            pl.DataFrame(
                {
                    "model": [model] * len(samples),
                    "test_set": [name] * len(samples),
                    "sample_id": [str(s.meta.get("sample_id", i)) for i, s in enumerate(samples)],
                    "subject_id": [s.subject_id for s in samples],
                    "label": [int(s.label) for s in samples],
                    "proba": proba,
                },
                schema=PREDICTION_SCHEMA,
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame(schema=PREDICTION_SCHEMA)


def audit_table(
    predictions: pl.DataFrame,
    metrics: Sequence[str] = tuple(AUDIT_METRICS),
    n_boot: int = 500,
    seed: int = 0,
) -> pl.DataFrame:
    """AUDIT_SCHEMA rows per (model, test set, metric) from `predict_sets` rows. Rows whose
    probability is missing for ANY model are left out for all models (so every model is
    scored on the same images) and counted in n_unscored."""
    missing = predictions.filter(pl.col("proba").is_nan() | pl.col("proba").is_null())
    drop = missing.select("test_set", "sample_id").unique()
    scored = predictions.join(drop, on=["test_set", "sample_id"], how="anti")
    rows = []
    for (model, test_set), part in scored.group_by(["model", "test_set"], maintain_order=True):
        y = part["label"].to_numpy()
        p = part["proba"].to_numpy()
        g = part["subject_id"].to_numpy()
        n_unscored = (
            predictions.filter((pl.col("model") == model) & (pl.col("test_set") == test_set)).height
            - part.height
        )
        for name in metrics:
            ci = bootstrap_ci(y, p, AUDIT_METRICS[name], n_boot=n_boot, seed=seed, groups=g)
            rows.append(
                {
                    "model": model, "test_set": test_set, "metric": name, "value": ci.value,
                    "ci_low": ci.lo, "ci_high": ci.hi, "n": int(y.size),
                    "n_subjects": int(np.unique(g).size), "n_unscored": int(n_unscored),
                }
            )  # fmt: skip
    return pl.DataFrame(rows, schema=AUDIT_SCHEMA)


def shortcut_findings(
    table: pl.DataFrame,
    metric: str = "accuracy",
    margin: float = DEFAULT_MARGIN,
    reference: str = IN_DISTRIBUTION,
) -> pl.DataFrame:
    """Per model and counterfactual set: reference value, value, drop (reference - value)
    and `relied` = drop > margin."""
    part = table.filter(pl.col("metric") == metric)
    ref = part.filter(pl.col("test_set") == reference).select(
        "model", pl.col("value").alias("reference")
    )
    return (
        part.filter(pl.col("test_set") != reference)
        .join(ref, on="model", how="left")
        .select(
            "model",
            "test_set",
            "reference",
            "value",
            "ci_low",
            "ci_high",
            (pl.col("reference") - pl.col("value")).alias("drop"),
        )  # fmt: skip
        .with_columns((pl.col("drop") > margin).fill_null(False).alias("relied"))
    )


def comparison_frame(table: pl.DataFrame, metric: str = "accuracy") -> pl.DataFrame:
    """Models side by side: one row per test set, one value column per model (the
    `model_comparison` view's shape)."""
    part = table.filter(pl.col("metric") == metric).select("test_set", "model", "value")
    return part.pivot(on="model", index="test_set", values="value", maintain_order=True)


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.2f}"


def audit_markdown(
    table: pl.DataFrame,
    metric: str = "accuracy",
    margin: float = DEFAULT_MARGIN,
    reference: str = IN_DISTRIBUTION,
) -> str:
    """A summary that names, for each model, the factors it relied on (drop > margin), then
    the table of values with 95% subject-bootstrap intervals."""
    findings = shortcut_findings(table, metric, margin, reference)
    lines = [
        f"### Shortcut audit ({metric})",
        "",
        f"A model relied on a factor when its {metric} on the set that changes that factor is "
        f"more than {margin:.2f} below its {metric} on the unchanged held-out faces "
        f"(`{reference}`).",
        "",
    ]
    for model in table["model"].unique(maintain_order=True).to_list():
        mine = findings.filter(pl.col("model") == model)
        ref = mine["reference"][0] if mine.height else None
        relied = mine.filter(pl.col("relied")).sort("drop", descending=True)
        if relied.height:
            parts = [
                f"{SET_FACTORS.get(r['test_set'], r['test_set'])} (`{r['test_set']}`: "
                f"{_fmt(r['value'])}, -{r['drop']:.2f})"
                for r in relied.iter_rows(named=True)
            ]
            lines.append(
                f"- **{model}** ({reference} {_fmt(ref)}) relied on: " + "; ".join(parts) + "."
            )
        else:
            worst = mine.sort("drop", descending=True, nulls_last=True).head(1)
            detail = ""
            if worst.height and worst["drop"][0] is not None:
                detail = f"; largest drop {worst['drop'][0]:.2f} on `{worst['test_set'][0]}`"
            lines.append(
                f"- **{model}** ({reference} {_fmt(ref)}): no drop above {margin:.2f}{detail}."
            )
    lines += ["", f"| model | test set | {metric} | 95% CI | n |", "|---|---|---|---|---|"]
    for r in table.filter(pl.col("metric") == metric).iter_rows(named=True):
        lines.append(
            f"| {r['model']} | {r['test_set']} | {_fmt(r['value'])} | "
            f"{_fmt(r['ci_low'])}-{_fmt(r['ci_high'])} | {r['n']} |"
        )
    return "\n".join(lines) + "\n"


def audit_plot(table: pl.DataFrame, metric: str = "accuracy") -> bytes:
    """PNG bytes: grouped bars, one group per test set, one bar per model, with the
    bootstrap intervals as error bars; a dashed line at chance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    part = table.filter(pl.col("metric") == metric)
    sets = part["test_set"].unique(maintain_order=True).to_list()
    models = part["model"].unique(maintain_order=True).to_list()
    width = 0.8 / max(1, len(models))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(sets) + 2), 3.6), dpi=110)
    x = np.arange(len(sets))
    for i, model in enumerate(models):
        vals, lo, hi = [], [], []
        for s in sets:
            row = part.filter((pl.col("model") == model) & (pl.col("test_set") == s))
            v = row["value"][0] if row.height else np.nan
            a = row["ci_low"][0] if row.height else np.nan
            b = row["ci_high"][0] if row.height else np.nan
            vals.append(v)
            lo.append(v - a if np.isfinite(a) else 0.0)
            hi.append(b - v if np.isfinite(b) else 0.0)
        ax.bar(x + (i - (len(models) - 1) / 2) * width, vals, width, yerr=[lo, hi],
               capsize=2, label=model)  # fmt: skip
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xticks(x, sets, rotation=25, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(metric)
    ax.legend(fontsize=8, ncols=len(models), loc="upper center", bbox_to_anchor=(0.5, 1.18))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
