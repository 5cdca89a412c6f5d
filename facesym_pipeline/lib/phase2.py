"""Phase 2 as the pipeline runs it: the labelled images of one dataset with the landmarks
of the landmark pass, subject-grouped folds shared by every model, the landmark-geometry
classifier trained per fold on the Phase 1 features, and the shortcut audit of all models
on counterfactual copies of the held-out subjects."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from facesym_pipeline.lib.classifier import (
    candidate_models,
    choose_n_splits,
    feature_matrix,
    fit_small,
    grouped_splits,
)
from facesym_pipeline.lib.cnn.attribution import attribution_grid
from facesym_pipeline.lib.cnn.datasets import CropArrays
from facesym_pipeline.lib.cnn.train import cnn_predictor, cross_validate, load_model, save_model
from facesym_pipeline.lib.counterfactual import (
    Sample,
    attach_landmarks,
    build_counterfactual_sets,
)
from facesym_pipeline.lib.crops import read_crop
from facesym_pipeline.lib.feature_tables import passed_frames
from facesym_pipeline.lib.grouping import cv_groups
from facesym_pipeline.lib.landmark_table import landmark_arrays
from facesym_pipeline.lib.landmarker import create_landmarker
from facesym_pipeline.lib.media import load_image_rgb
from facesym_pipeline.lib.media_summary import summarise_media
from facesym_pipeline.lib.metrics import roc_auc
from facesym_pipeline.lib.paths import resolve_inside
from facesym_pipeline.lib.refine import REFINED_POINTS, refine_points
from facesym_pipeline.lib.shortcut_audit import (
    Predictor,
    audit_markdown,
    audit_plot,
    audit_table,
    comparison_frame,
    per_fold_predictor,
    predict_sets,
)
from facesym_pipeline.lib.symmetry import symmetry_features
from facesym_pipeline.lib.training_data import CLASSIFIER_FEATURES, with_magnitudes

GEOMETRY_MODEL = "logreg"  # the interpretable Phase 1 candidate


@dataclass
class AuditData:
    samples: list[Sample]  # labelled images with a usable face, sorted by file
    y: np.ndarray
    groups: np.ndarray  # cross-validation group (subject, else near-duplicate cluster)
    folds: np.ndarray  # test fold of each sample

    @property
    def subject_fold(self) -> dict[str, int]:
        return {s.subject_id: int(f) for s, f in zip(self.samples, self.folds, strict=True)}

    def fold_table(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "file": [s.meta["file"] for s in self.samples],
                "media_id": [s.meta["media_id"] for s in self.samples],
                "group": self.groups,
                "label": self.y,
                "fold": self.folds,
            }
        )


def audit_data(
    folder: Path,
    inventory: pl.DataFrame,
    landmarks: pl.DataFrame,
    quality: pl.DataFrame,
    labels: pl.DataFrame | None,
    seed: int = 0,
) -> AuditData:
    """Labelled still images whose frame passed quality, with their stored landmarks and
    the labels.csv fields (nuisance, confound, source) the counterfactual sets need."""
    extra = labels.rename({"file": "relpath"}) if labels is not None else None
    images = inventory.filter(
        (pl.col("kind") == "image") & (pl.col("status") == "ok") & pl.col("label").is_not_null()
    )
    rows = (
        passed_frames(landmarks, quality)
        .join(images.select("media_id", "relpath", "label", "subject_id", "phash"), on="media_id")
        .sort("relpath")
    )
    if extra is not None:
        rows = rows.join(extra.drop("label", "subject_id", strict=False), on="relpath", how="left")
    points = landmark_arrays(rows)["landmarks"]
    samples = []
    for row, lm in zip(rows.iter_rows(named=True), points, strict=True):
        meta = {
            k: v
            for k, v in row.items()
            if k not in {"landmarks", "blendshapes", "transform", "refined_xy"}
        }
        meta |= {"file": row["relpath"], "sample_id": row["relpath"], "set": "in_distribution"}
        subject = row["subject_id"] or f"image:{row['media_id'][:12]}"
        samples.append(
            Sample(
                load_image_rgb(resolve_inside(folder, row["relpath"])),
                int(row["label"]),
                subject,
                meta,
                lm,
            )
        )
    hashes = [int(h, 16) if h else None for h in rows["phash"].to_list()]
    groups = np.array(cv_groups(rows["subject_id"].to_list(), hashes))
    y = np.array([s.label for s in samples], dtype=np.int64)
    # The same splitter, seed and grouping as the Phase 1 classifier.
    n_splits = choose_n_splits(groups, y)
    folds = np.full(len(y), -1, dtype=np.int64)
    for k, (_, test) in enumerate(grouped_splits(np.zeros((len(y), 1)), y, groups, n_splits, seed)):
        folds[test] = k
    samples = [s._replace(subject_id=str(g)) for s, g in zip(samples, groups, strict=True)]
    return AuditData(samples, y, groups, folds)


def crop_arrays_from_index(
    index: pl.DataFrame, crops_dir: Path, media_ids: list[str]
) -> CropArrays:
    """Stacked crops of `media_ids` (in that order) from the `region_crops` files."""
    by_media = index.filter(pl.col("frame_index") == 0).group_by("media_id").agg("region", "path")
    lookup = {
        r["media_id"]: dict(zip(r["region"], r["path"], strict=True))
        for r in by_media.iter_rows(named=True)
    }
    names = sorted(next(iter(lookup.values())).keys()) if lookup else []
    ok = np.array([m in lookup for m in media_ids], dtype=bool)
    crops = {
        name: np.stack([read_crop(crops_dir / lookup[m][name]) for m in media_ids if m in lookup])
        for name in names
    }
    return CropArrays(crops, ok)


def geometry_features(samples: list[Sample]) -> pl.DataFrame:
    """The Phase 1 media features of each sample (pixel-refined points, magnitudes), in
    order; computed from each image's own landmarks, so counterfactual copies are measured
    the way the pipeline measures any image."""
    ids = [str(s.meta["sample_id"]) for s in samples]
    keep = [i for i, s in enumerate(samples) if s.landmarks is not None]
    keys = pl.DataFrame({"media_id": ids})
    if not keep:
        return keys
    landmarks = np.stack([samples[i].landmarks for i in keep])
    widths = np.array([samples[i].image.shape[1] for i in keep])
    heights = np.array([samples[i].image.shape[0] for i in keep])
    refined = [refine_points(samples[i].image, samples[i].landmarks) for i in keep]
    refined_px = {p: np.stack([r[p] for r in refined]) for p in REFINED_POINTS}
    frames = symmetry_features(landmarks, widths, heights, refined=refined_px).with_columns(
        pl.Series("media_id", [ids[i] for i in keep]), pl.lit(0).alias("frame_index")
    )
    summary = with_magnitudes(summarise_media(frames))
    return keys.join(summary, on="media_id", how="left", maintain_order="left")


def geometry_columns(features: pl.DataFrame) -> list[str]:
    return [
        c
        for c in CLASSIFIER_FEATURES
        if c in features.columns and features[c].drop_nulls().n_unique() >= 2
    ]


def train_geometry(data: AuditData, seed: int = 0) -> tuple[dict[int, object], list[str]]:
    """One Phase 1 logistic regression per fold, trained without that fold's subjects."""
    features = geometry_features(data.samples)
    columns = geometry_columns(features)
    X = feature_matrix(features, columns)
    model = candidate_models(seed)[GEOMETRY_MODEL]
    fitted = {
        int(k): fit_small(model, X[data.folds != k], data.y[data.folds != k])
        for k in np.unique(data.folds)
    }
    return fitted, columns


def geometry_predictor(model, columns: list[str]) -> Predictor:
    def predict(samples) -> np.ndarray:
        out = np.full(len(samples), np.nan)
        ok = np.array([s.landmarks is not None for s in samples], dtype=bool)
        if ok.any():
            features = geometry_features([s for s, k in zip(samples, ok, strict=True) if k])
            out[ok] = model.predict_proba(feature_matrix(features, columns))[:, 1]
        return out

    return predict


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


CNN_KINDS = ("full_face_cnn", "region_cnn")


@dataclass
class AuditResult:
    table: pl.DataFrame  # shortcut_audit rows
    comparison: pl.DataFrame  # one row per (metric, test set), one column per model
    summary_markdown: str
    plot_png: bytes
    attribution_png: bytes


def load_fold_models(models_dir: Path) -> dict[str, dict[int, object]]:
    """{kind: {fold: network}} saved by the CNN assets under `models_dir/<kind>/fold<k>.pt`."""
    return {
        kind: {
            int(p.stem.removeprefix("fold")): load_model(p)
            for p in sorted((models_dir / kind).glob("fold*.pt"))
        }
        for kind in CNN_KINDS
    }


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


@dataclass
class CnnTraining:
    history: pl.DataFrame  # one row per (fold, epoch)
    device: str
    seconds: float
    folds: int
    out_of_fold_roc_auc: float
    out_of_fold_accuracy: float


def train_cnn_folds(
    kind: str,
    data: AuditData,
    arrays: CropArrays,
    settings,
    models_dir: Path,
    on_epoch=None,
) -> CnnTraining:
    """One network of `kind` per fold of `data` (the audit's folds), each saved as
    `models_dir/fold<k>.pt` (replacing earlier ones), with out-of-fold scores."""
    keep = np.flatnonzero(arrays.ok)
    y = data.y[keep]
    result = cross_validate(
        kind, arrays, y, data.groups[keep], data.folds[keep], settings, on_epoch=on_epoch
    )
    shutil.rmtree(models_dir, ignore_errors=True)
    models_dir.mkdir(parents=True)
    for fold, model in result.models.items():
        save_model(model, kind, models_dir / f"fold{fold}.pt")
    return CnnTraining(
        history=pl.DataFrame(result.history_rows()),
        device=result.device,
        seconds=result.seconds,
        folds=len(result.models),
        out_of_fold_roc_auc=float(roc_auc(y, result.proba)),
        out_of_fold_accuracy=float(np.mean((result.proba >= 0.5) == y)),
    )
