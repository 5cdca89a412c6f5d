"""The image models trained on the audit's subject-grouped folds (the same held-out people
as every other audited model): one network of each kind
per fold, saved as `fold<k>.pt`, with its training history and out-of-fold scores, and
loaded back for the audit."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from facesym_pipeline.lib.audit.audit_data import AuditData
from facesym_pipeline.lib.classify.metrics import roc_auc
from facesym_pipeline.lib.image_models.datasets import CropArrays
from facesym_pipeline.lib.image_models.train import cross_validate, load_network, save_network

CNN_KINDS = ("full_face_cnn", "region_cnn")


def load_fold_models(models_dir: Path) -> dict[str, dict[int, object]]:
    """{kind: {fold: network}} saved by the CNN assets under `models_dir/<kind>/fold<k>.pt`."""
    return {
        kind: {
            int(p.stem.removeprefix("fold")): load_network(p)
            for p in sorted((models_dir / kind).glob("fold*.pt"))
        }
        for kind in CNN_KINDS
    }


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
        save_network(model, kind, models_dir / f"fold{fold}.pt")
    return CnnTraining(
        history=pl.DataFrame(result.history_rows()),
        device=result.device,
        seconds=result.seconds,
        folds=len(result.models),
        out_of_fold_roc_auc=float(roc_auc(y, result.proba)),
        out_of_fold_accuracy=float(np.mean((result.proba >= 0.5) == y)),
    )
