"""The landmark-geometry model of the shortcut audit: the classifier's interpretable
candidate, trained per audit fold on the pipeline's own media features, and a predictor
that measures any image (a counterfactual copy included) the way the pipeline measures a
still."""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.audit.audit_data import AuditData
from facesym_pipeline.lib.audit.counterfactual import Sample
from facesym_pipeline.lib.audit.shortcut_audit import Predictor
from facesym_pipeline.lib.classify.model_selection import (
    candidate_models,
    feature_matrix,
    fit_small,
)
from facesym_pipeline.lib.classify.training_data import CLASSIFIER_FEATURES, with_magnitudes
from facesym_pipeline.lib.face.refine import LID_CONFIDENCE, REFINED_LANDMARKS, refine_points
from facesym_pipeline.lib.measure.media_summary import summarise_media
from facesym_pipeline.lib.measure.symmetry import symmetry_features

GEOMETRY_MODEL = "logreg"  # the classifier's interpretable candidate


def geometry_features(samples: list[Sample]) -> pl.DataFrame:
    """The per-media features of each sample (pixel-refined points, magnitudes), in
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
    refined_px = {p: np.stack([r[p] for r in refined]) for p in REFINED_LANDMARKS}
    # The same eye-measure gate as the pipeline's stills.
    lid_confidence = np.stack([[r[k] for k in LID_CONFIDENCE] for r in refined])
    frames = symmetry_features(
        landmarks, widths, heights, refined=refined_px, lid_confidence=lid_confidence
    ).with_columns(pl.Series("media_id", [ids[i] for i in keep]), pl.lit(0).alias("frame_index"))
    summary = with_magnitudes(summarise_media(frames))
    return keys.join(summary, on="media_id", how="left", maintain_order="left")


def geometry_columns(features: pl.DataFrame) -> list[str]:
    return [
        c
        for c in CLASSIFIER_FEATURES
        if c in features.columns and features[c].drop_nulls().n_unique() >= 2
    ]


def train_geometry(data: AuditData, seed: int = 0) -> tuple[dict[int, object], list[str]]:
    """One logistic regression on the media features per fold, trained without that fold's subjects."""
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
