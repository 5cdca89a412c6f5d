"""One training of the asymmetry classifier end to end: data, cross-validated selection,
SHAP explanation and a saved model with its registry entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.classifier import TrainResult, feature_matrix, train_and_select
from facesym_pipeline.lib.code_version import code_version
from facesym_pipeline.lib.model_store import ModelRecord, save_model
from facesym_pipeline.lib.shap_report import shap_report
from facesym_pipeline.lib.training_data import available_features, training_frame


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


def train_classifier(
    media_features: pl.DataFrame,
    models_dir: Path,
    shap_png: Path,
    seed: int = 0,
    n_boot: int = 1000,
) -> ClassifierRun:
    data = training_frame(media_features)
    if data.is_empty() or data["label"].n_unique() < 2:
        raise ValueError("no labelled partition has both classes: nothing to train on")
    features = available_features(data)
    result = train_and_select(data, features, seed=seed, n_boot=n_boot)
    partitions = sorted(data["dataset"].unique().to_list())
    record = save_model(
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
