"""One training of the asymmetry classifier end to end: data, cross-validated selection,
SHAP explanation and a saved model with its registry entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.classify.model_selection import (
    TrainResult,
    feature_matrix,
    train_and_select,
)
from facesym_pipeline.lib.classify.shap_report import shap_report
from facesym_pipeline.lib.classify.training_data import available_features, training_frame
from facesym_pipeline.lib.code_version import code_version
from facesym_pipeline.lib.store.model_files import ModelRecord, save_classifier


@dataclass
class ClassifierRun:
    record: ModelRecord
    result: TrainResult
    metrics: pl.DataFrame  # model_metrics rows, tagged with the model id
    folds: pl.DataFrame  # row -> group, label, grouped and random fold
    shap_markdown: str
    shap_png: Path
    n_rows: int
    partitions: list[str]


def why_not_trainable(data: pl.DataFrame) -> str | None:
    """Why the classifier cannot be trained on this `training_frame`, in words, or None
    when it can: grouped cross-validation needs both classes, each from at least two
    groups (subjects or near-duplicate clusters)."""
    if data.is_empty():
        return "no usable media file carries a label"
    groups_per_class = dict(data.group_by("label").agg(pl.col("group").n_unique()).iter_rows())
    if len(groups_per_class) < 2:
        return f"every labelled media file is of class {next(iter(groups_per_class))}"
    few = {label: n for label, n in groups_per_class.items() if n < 2}
    if few:
        return f"class {min(few)} has media of one subject only; grouped CV needs two"
    return None


def train_classifier(
    media_features: pl.DataFrame,
    models_dir: Path,
    shap_png: Path,
    seed: int = 0,
    n_boot: int = 1000,
) -> ClassifierRun:
    data = training_frame(media_features)
    reason = why_not_trainable(data)
    if reason is not None:
        raise ValueError(f"nothing to train on: {reason}")
    features = available_features(data)
    result = train_and_select(data, features, seed=seed, n_boot=n_boot)
    partitions = sorted(data["dataset"].unique().to_list())
    record = save_classifier(
        result.model,
        models_dir,
        model_name=result.model_name,
        feature_cols=features,
        training_partitions=partitions,
        metrics=result.summary(),
        code_version=code_version(),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        extra={"n_rows": data.height, "n_groups": data["group"].n_unique()},
    )
    shap_png.parent.mkdir(parents=True, exist_ok=True)
    _, markdown = shap_report(result.model, feature_matrix(data, features), features, shap_png)
    folds = result.folds.with_columns(
        pl.Series("media_id", data["media_id"]), pl.lit(record.model_id).alias("model_id")
    )
    metrics = result.model_metrics.with_columns(pl.lit(record.model_id).alias("model_id"))
    return ClassifierRun(
        record, result, metrics, folds, markdown, shap_png, data.height, partitions
    )
