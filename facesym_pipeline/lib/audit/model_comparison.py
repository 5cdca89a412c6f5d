"""Every model of the shortcut audit on the same held-out faces and on counterfactual copies
of them: each fold's copy of a model scores only the subjects that fold held out; the
result is the audit table, the model comparison, a summary, a plot and a saliency picture."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.audit.audit_data import AuditData
from facesym_pipeline.lib.audit.counterfactual import (
    Sample,
    attach_landmarks,
    build_counterfactual_sets,
)
from facesym_pipeline.lib.audit.geometry_model import geometry_predictor, train_geometry
from facesym_pipeline.lib.audit.shortcut_audit import (
    Predictor,
    audit_markdown,
    audit_plot,
    audit_table,
    comparison_frame,
    per_fold_predictor,
    predict_sets,
)
from facesym_pipeline.lib.face.landmarker import create_landmarker
from facesym_pipeline.lib.image_models.attribution import attribution_grid
from facesym_pipeline.lib.image_models.train import cnn_predictor


def counterfactual_sets(
    data: AuditData, model_path: Path, seed: int = 0
) -> dict[str, list[Sample]]:
    """Every counterfactual set of the dataset's samples, each image's landmarks detected
    on the image itself (a model sees the changed picture, not the original's geometry)."""
    sets = build_counterfactual_sets(data.samples, seed=seed)
    with create_landmarker(model_path) as landmarker:
        return {name: attach_landmarks(samples, landmarker) for name, samples in sets.items()}


def predictions(
    data: AuditData,
    sets: Mapping[str, list[Sample]],
    fold_predictors: Mapping[str, Mapping[int, Predictor]],
) -> pl.DataFrame:
    """Every model's probability for every sample of every set, each sample scored by the
    model of the fold that held its subject out."""
    subject_fold = data.subject_fold
    return pl.concat(
        [
            predict_sets(name, per_fold_predictor(by_fold, subject_fold), sets)
            for name, by_fold in fold_predictors.items()
        ]
    )


@dataclass
class AuditResult:
    table: pl.DataFrame  # shortcut_audit rows
    comparison: pl.DataFrame  # one row per (metric, test set), one column per model
    summary_markdown: str
    plot_png: bytes
    attribution_png: bytes


def run_audit(
    data: AuditData,
    cnn: Mapping[str, Mapping[int, object]],
    model_path: Path,
    seed: int = 0,
    n_boot: int = 500,
) -> AuditResult:
    """Every model, each fold's copy scoring only the subjects that fold held out, on the
    held-out faces and on every counterfactual set built from them."""
    geometry, columns = train_geometry(data, seed)
    predictors = {
        "landmark_geometry": {k: geometry_predictor(m, columns) for k, m in geometry.items()}
    }
    predictors |= {
        kind: {k: cnn_predictor(m) for k, m in by_fold.items()} for kind, by_fold in cnn.items()
    }
    sets = counterfactual_sets(data, model_path, seed)
    table = audit_table(predictions(data, sets, predictors), n_boot=n_boot, seed=seed)
    comparison = pl.concat(
        [
            comparison_frame(table, m).with_columns(metric=pl.lit(m))
            for m in ("accuracy", "roc_auc")
        ],
        how="diagonal_relaxed",
    )
    examples = attribution_examples(data, sets)
    fold = data.subject_fold[examples[0][3]] if examples else 0
    attribution = attribution_grid({k: m[fold] for k, m in cnn.items()}, [e[:3] for e in examples])
    return AuditResult(table, comparison, audit_markdown(table), audit_plot(table), attribution)


def attribution_examples(data: AuditData, sets, per_subject: int = 4):
    """A few held-out images of one subject: its original and its strongest asymmetries."""
    subject = sorted(data.subject_fold)[0]
    chosen = [s for s in sets["in_distribution"] if s.subject_id == subject]
    chosen.sort(
        key=lambda s: (s.label, -(s.meta.get("droop_mm") or 0) - (s.meta.get("ptosis_mm") or 0))
    )
    picked = chosen[:1] + [s for s in chosen if s.label == 1][: per_subject - 1]
    return [(s.image, s.landmarks, s.meta["file"].rsplit("/", 1)[-1], subject) for s in picked]
