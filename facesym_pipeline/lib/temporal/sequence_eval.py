"""Is the sequence classifier any better than the rule-based detector on people it has not
seen? Both are scored per labelled video: the classifier out of fold, with folds grouped by
subject; the rules from their `temporal_trends` decision. Confidence intervals come from
resampling subjects (not videos), because the videos of one person are not independent.

The rule-based decision of a video is 1 when its mouth region is flagged (beyond the
healthy range for the persistence duration) or its mouth trend is `worsening`, else 0
(also when the trend is `insufficient_data`). Being 0/1, its ROC AUC equals its balanced
accuracy; the classifier's AUC uses its probabilities.

The classifier's inputs are in units of each measure's healthy threshold. By default those
are estimated inside every fold from the training subjects' unaffected videos only (the
same rule as the warehouse's healthy ranges: p95 of |value|, never below the documented
default with few subjects), so the held-out person's own face never sets its scale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sklearn.model_selection import LeaveOneGroupOut, StratifiedGroupKFold
from torch import nn

from facesym_pipeline.lib.temporal.config import MEASURES
from facesym_pipeline.lib.temporal.sequence_model import (
    Sequences,
    predict_proba,
    save_sequence_model,
    sequences_from_series,
    train_sequence_model,
)
from facesym_pipeline.lib.temporal.thresholds import (
    DEFAULT_THRESHOLDS,
    MIN_SUBJECTS_TO_LOWER,
    thresholds_from_frames,
)
from facesym_pipeline.lib.temporal.video_trends import build_temporal_trends

RULE_DEFINITION = "mouth_flagged or mouth_trend == 'worsening'"
METRICS = ("balanced_accuracy", "roc_auc", "sensitivity", "specificity")
RULE_METHOD = "rule_based"
COMPARISON_SCHEMA = {
    "method": pl.String,
    "metric": pl.String,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_videos": pl.Int64,
    "n_subjects": pl.Int64,
}


@dataclass(frozen=True)
class SequenceEvaluation:
    """Per-video scores behind a comparison table, and how they were obtained.

    `per_video`: media_id, subject_id, label, fold (index of the fold that held the video
    out), rule_decision, sequence_proba (out of fold), sequence_decision (proba >= 0.5).
    `skipped`: labelled media ids without a temporal series or trends row.
    `fold_epochs`, `fold_thresholds`: per fold, the epochs trained and the input scale.
    """

    per_video: pl.DataFrame
    method: str
    rule: str
    n_folds: int
    n_boot: int
    ci_level: float
    seed: int
    skipped: list[str]
    fold_epochs: list[int] = field(default_factory=list)
    fold_thresholds: list[dict[str, float]] = field(default_factory=list)


PER_VIDEO_SCHEMA = {
    "media_id": pl.String,
    "subject_id": pl.String,
    "label": pl.Int8,
    "fold": pl.Int64,
    "rule_decision": pl.Int8,
    "sequence_proba": pl.Float64,
    "sequence_decision": pl.Int8,
}


def rule_decisions(trends: pl.DataFrame) -> pl.DataFrame:
    """`media_id, rule_decision` (0/1) from `temporal_trends` rows, per `RULE_DEFINITION`."""
    if trends.height == 0:
        return pl.DataFrame(schema={"media_id": pl.String, "rule_decision": pl.Int8})
    flagged = pl.col("mouth_flagged").fill_null(False)
    worsening = (pl.col("mouth_trend") == "worsening").fill_null(False)
    return trends.select(
        pl.col("media_id").cast(pl.String),
        (flagged | worsening).cast(pl.Int8).alias("rule_decision"),
    )


def _labelled(
    series: pl.DataFrame, trends: pl.DataFrame, labels: pl.DataFrame, step_s: float
) -> tuple[Sequences, pl.DataFrame, list[str]]:
    """Sequences of the labelled videos that have both a series and a trends row, and the
    matching table (same order) of labels, subjects and rule decisions."""
    known = (
        labels.filter(pl.col("label").is_not_null())
        .select(
            pl.col("media_id").cast(pl.String),
            pl.col("label").cast(pl.Int8),
            pl.coalesce(
                pl.col("subject_id").cast(pl.String), pl.col("media_id").cast(pl.String)
            ).alias("subject_id"),
        )
        .unique("media_id", keep="first", maintain_order=True)
    )
    in_series = set(series["media_id"].cast(pl.String).unique().to_list())
    rules = rule_decisions(trends)
    usable = known.join(rules, on="media_id", how="inner").filter(
        pl.col("media_id").is_in(list(in_series))
    )
    skipped = sorted(set(known["media_id"]) - set(usable["media_id"]))
    if usable.height == 0:
        raise ValueError(NO_LABELLED_VIDEO)
    ids = usable["media_id"].to_list()
    seqs = sequences_from_series(
        series.with_columns(pl.col("media_id").cast(pl.String)).filter(
            pl.col("media_id").is_in(ids)
        ),
        step_s,
    )
    table = pl.DataFrame({"media_id": seqs.media_ids}, schema={"media_id": pl.String}).join(
        usable, on="media_id", how="left", maintain_order="left"
    )
    return seqs, table, skipped


NO_LABELLED_VIDEO = "no labelled video has both a temporal series and a trends row"


def why_not_comparable(
    series: pl.DataFrame, trends: pl.DataFrame, labels: pl.DataFrame, step_s: float = 0.2
) -> str | None:
    """Why `compare_sequence_vs_rules` cannot run on these tables, in words, or None when
    it can: it needs labelled videos of both classes from at least two subjects, and every
    leave-one-subject-out training set must still hold both classes. A dataset of images
    only, or of unlabelled videos, has nothing to compare and is not an error."""
    if series.height == 0 or trends.height == 0:
        return "no video has a temporal series: the datasets hold no analysable video"
    try:
        _, table, _ = _labelled(series, trends, labels, step_s)
    except ValueError as exc:
        return str(exc)
    y = table["label"].to_numpy().astype(int)
    groups = table["subject_id"].to_numpy()
    if len(np.unique(y)) < 2:
        return f"the {y.size} labelled video(s) are all of class {int(y[0])}; both are needed"
    if len(np.unique(groups)) < 2:
        return "the labelled videos come from one subject; folds hold out whole subjects"
    for held_out in np.unique(groups):
        if len(np.unique(y[groups != held_out])) < 2:
            return (
                f"without subject {held_out!r} the labelled videos are of one class only; "
                "each class needs videos of at least two subjects"
            )
    return None


def training_thresholds(
    series: pl.DataFrame, unaffected_ids: list[str], n_subjects: int
) -> dict[str, float]:
    """Healthy thresholds from the raw measures of the given unaffected videos (p95 of
    |value|), kept at or above the defaults unless at least `MIN_SUBJECTS_TO_LOWER`
    people contributed, as in `healthy_ranges_table`."""
    frames = series.filter(pl.col("media_id").cast(pl.String).is_in(unaffected_ids))
    measured = thresholds_from_frames(frames.select([m for m in MEASURES if m in frames.columns]))
    if n_subjects >= MIN_SUBJECTS_TO_LOWER:
        return measured
    return {m: max(v, DEFAULT_THRESHOLDS[m]) for m, v in measured.items()}


def _thresholds_for(
    series: pl.DataFrame,
    media_ids: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    fixed: dict[str, float] | str | None,
) -> dict[str, float]:
    """Fixed thresholds, the defaults (`"default"`) or, for None, those of the unaffected
    videos among `media_ids`."""
    if isinstance(fixed, dict):
        return fixed
    if fixed == "default":
        return dict(DEFAULT_THRESHOLDS)
    if fixed is not None:
        raise ValueError(f"thresholds must be a dict, 'default' or None, not {fixed!r}")
    negative = y == 0
    return training_thresholds(
        series, [str(m) for m in media_ids[negative]], len(np.unique(groups[negative]))
    )


def subject_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int | None = None, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Train/test index pairs with no subject on both sides: leave one subject out when
    `n_splits` is None or at least the number of subjects, else stratified grouped folds."""
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ValueError("grouped folds need at least two subjects")
    if n_splits is None or n_splits >= n_groups:
        splitter = LeaveOneGroupOut()
        return list(splitter.split(y, y, groups))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(y, y, groups))


def _weighted_metrics(w: np.ndarray, y: np.ndarray, score: np.ndarray) -> dict[str, np.ndarray]:
    """Each metric for every row of video weights `w` (B, n): a row of ones is the plain
    estimate, a row of subject multiplicities is one bootstrap resample. NaN where a
    resample lacks a class."""
    pos, neg = y == 1, y == 0
    pred = (score >= 0.5).astype(float)
    w_pos, w_neg = w[:, pos], w[:, neg]
    n_pos, n_neg = w_pos.sum(1), w_neg.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = (w_pos * pred[pos]).sum(1) / n_pos
        spec = (w_neg * (1 - pred[neg])).sum(1) / n_neg
        # Mann-Whitney form of the AUC with weighted pairs: ties count one half.
        diff = score[pos][:, None] - score[neg][None, :]
        pairs = (diff > 0) + 0.5 * (diff == 0)
        auc = np.einsum("bi,ij,bj->b", w_pos, pairs, w_neg) / (n_pos * n_neg)
    return {
        "balanced_accuracy": (sens + spec) / 2,
        "roc_auc": auc,
        "sensitivity": sens,
        "specificity": spec,
    }


def _bootstrap_weights(groups: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot, n_videos) multiplicities from resampling subjects with replacement."""
    subjects, index = np.unique(groups, return_inverse=True)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, subjects.size, (n_boot, subjects.size))
    counts = np.zeros((n_boot, subjects.size))
    np.add.at(counts, (np.arange(n_boot)[:, None], draws), 1.0)
    return counts[:, index]


def comparison_table(
    y: np.ndarray,
    groups: np.ndarray,
    scores: dict[str, np.ndarray],
    n_boot: int = 2000,
    ci_level: float = 0.95,
    seed: int = 0,
) -> pl.DataFrame:
    """Long table (method, metric, value, ci_low, ci_high, n_videos, n_subjects) of each
    scored method, plus `<second>_minus_<first>` rows with paired intervals (the same
    resamples for both), which is what "not worse than" rests on."""
    y = np.asarray(y, dtype=int)
    groups = np.asarray(groups)
    ones = np.ones((1, y.size))
    boot = _bootstrap_weights(groups, n_boot, seed)
    point = {m: _weighted_metrics(ones, y, np.asarray(s, float)) for m, s in scores.items()}
    resampled = {m: _weighted_metrics(boot, y, np.asarray(s, float)) for m, s in scores.items()}
    names = list(scores)
    if len(names) == 2:
        first, second = names
        key = f"{second}_minus_{first}"
        point[key] = {k: point[second][k] - point[first][k] for k in METRICS}
        resampled[key] = {k: resampled[second][k] - resampled[first][k] for k in METRICS}
    tail = 100 * (1 - ci_level) / 2
    rows = []
    for method in point:
        for metric in METRICS:
            value = float(point[method][metric][0])
            draws = resampled[method][metric]
            draws = draws[np.isfinite(draws)]
            lo, hi = np.percentile(draws, [tail, 100 - tail]) if draws.size else (np.nan, np.nan)
            rows.append(
                {
                    "method": method,
                    "metric": metric,
                    "value": value if np.isfinite(value) else None,
                    "ci_low": float(lo) if np.isfinite(lo) else None,
                    "ci_high": float(hi) if np.isfinite(hi) else None,
                    "n_videos": int(y.size),
                    "n_subjects": int(len(np.unique(groups))),
                }
            )
    return pl.DataFrame(rows, schema=COMPARISON_SCHEMA)


def compare_sequence_vs_rules(
    series: pl.DataFrame,
    trends: pl.DataFrame,
    labels: pl.DataFrame,
    seed: int = 0,
    n_splits: int | None = None,
    n_boot: int = 2000,
    ci_level: float = 0.95,
    step_s: float = 0.2,
    thresholds: dict[str, float] | str | None = None,
    refit_rules: bool = False,
    **train_kwargs,
) -> tuple[pl.DataFrame, SequenceEvaluation]:
    """Out-of-fold sequence classifier vs the rule-based decision on the labelled videos.

    `series`: `temporal_series` rows; `trends`: `temporal_trends` rows; `labels`: one row
    per media_id with `label` (0/1, null = unlabelled) and `subject_id`. Folds hold out
    whole subjects (see `subject_folds`). `thresholds`: None estimates the input scale in
    each fold from its training subjects' unaffected videos (`training_thresholds`); a
    dict fixes it; "default" uses `DEFAULT_THRESHOLDS`. The number of epochs is chosen on
    inner subject-grouped folds of each training set unless `epochs` is given;
    `train_kwargs` go to `train_sequence_model` (arch, hidden, epochs, lr, weight_decay,
    dropout, augment, level). The same inputs and seed give the same table.

    `refit_rules`: recompute the rule decision of each held-out video with that fold's
    thresholds instead of reading it off `trends`. Trends built with healthy ranges from
    every unaffected video have seen the held-out person's face; this makes both methods
    equally blind to it.
    """
    seqs, table, skipped = _labelled(series, trends, labels, step_s)
    y = table["label"].to_numpy().astype(int)
    groups = table["subject_id"].to_numpy()
    if len(np.unique(y)) < 2:
        raise ValueError("the labelled videos must include both classes")
    folds = subject_folds(y, groups, n_splits, seed)
    ids = np.asarray(seqs.media_ids)
    rule = table["rule_decision"].to_numpy().astype(float)
    raw_series = series.drop("dataset", strict=False).with_columns(
        pl.col("media_id").cast(pl.String)
    )
    proba = np.full(y.size, np.nan)
    fold_epochs, fold_thresholds = [], []
    fold_of = np.full(y.size, -1, dtype=np.int64)
    for k, (train, test) in enumerate(folds):
        if len(np.unique(y[train])) < 2:
            raise ValueError(f"fold {k} trains on one class only; use fewer folds")
        scale = _thresholds_for(series, ids[train], y[train], groups[train], thresholds)
        model = train_sequence_model(seqs.x[train], seqs.lengths[train], y[train], seed=seed,
                                     thresholds=scale, groups=groups[train],
                                     **train_kwargs)  # fmt: skip
        proba[test] = predict_proba(model, seqs.x[test], seqs.lengths[test])
        fold_of[test] = k
        if refit_rules:
            held = raw_series.filter(pl.col("media_id").is_in(ids[test].tolist()))
            refit = rule_decisions(build_temporal_trends(held, model.thresholds)[0])
            decision = dict(zip(refit["media_id"], refit["rule_decision"], strict=True))
            rule[test] = [decision.get(m, 0) for m in ids[test]]
        fold_epochs.append(int(model.epochs_trained))
        fold_thresholds.append(model.thresholds)
    method = f"{train_kwargs.get('arch', 'tcn')}_sequence"
    comparison = comparison_table(y, groups, {RULE_METHOD: rule, method: proba}, n_boot,
                                  ci_level, seed)  # fmt: skip
    per_video = table.with_columns(
        pl.Series("rule_decision", rule.astype(np.int8)),
        pl.Series("fold", fold_of),
        pl.Series("sequence_proba", proba),
        pl.Series("sequence_decision", (proba >= 0.5).astype(np.int8)),
    ).select(list(PER_VIDEO_SCHEMA))
    rule_text = RULE_DEFINITION + (" (thresholds of each fold)" if refit_rules else "")
    details = SequenceEvaluation(per_video, method, rule_text, len(folds), n_boot,
                                 ci_level, seed, skipped, fold_epochs, fold_thresholds)  # fmt: skip
    return comparison, details


def train_final_model(
    series: pl.DataFrame,
    labels: pl.DataFrame,
    path: Path | None = None,
    seed: int = 0,
    step_s: float = 0.2,
    thresholds: dict[str, float] | str | None = None,
    **train_kwargs,
) -> nn.Module:
    """Train the sequence classifier on every labelled video with a series and, when
    `path` is given, save it with `save_sequence_model` (loadable with `weights_only=True`).
    Thresholds as in `compare_sequence_vs_rules` (None: from all unaffected labelled
    videos); epochs chosen on subject-grouped inner folds unless `epochs` is given."""
    known = labels.filter(pl.col("label").is_not_null()).select(
        pl.col("media_id").cast(pl.String),
        pl.col("label").cast(pl.Int8),
        pl.coalesce(
            pl.col("subject_id").cast(pl.String)
            if "subject_id" in labels.columns
            else pl.lit(None, pl.String),
            pl.col("media_id").cast(pl.String),
        ).alias("subject_id"),
    )
    ids = known["media_id"].to_list()
    seqs = sequences_from_series(
        series.with_columns(pl.col("media_id").cast(pl.String)).filter(
            pl.col("media_id").is_in(ids)
        ),
        step_s,
    )
    if not seqs.media_ids:
        raise ValueError("no labelled video has a temporal series")
    label_of = dict(zip(known["media_id"], known["label"], strict=True))
    subject_of = dict(zip(known["media_id"], known["subject_id"], strict=True))
    y = np.array([label_of[m] for m in seqs.media_ids], dtype=int)
    groups = np.array([subject_of[m] for m in seqs.media_ids])
    if len(np.unique(y)) < 2:
        raise ValueError("the labelled videos must include both classes")
    scale = _thresholds_for(series, np.asarray(seqs.media_ids), y, groups, thresholds)
    model = train_sequence_model(seqs.x, seqs.lengths, y, seed=seed, thresholds=scale,
                                 groups=groups, **train_kwargs)  # fmt: skip
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        save_sequence_model(model, Path(path), step_s=step_s)
    return model
