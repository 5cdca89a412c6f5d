"""The data every model of the shortcut audit shares: the labelled still images of one
dataset whose frame passed quality, with the landmarks of the landmark pass and the
labels.csv fields the counterfactual sets need, and one assignment of subject-grouped test
folds (the classifier's splitter, seed and grouping), so that all models are compared on
the same held-out people."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from facesym_pipeline.lib.audit.auditable import labelled_stills
from facesym_pipeline.lib.audit.counterfactual import Sample
from facesym_pipeline.lib.classify.grouping import frame_groups
from facesym_pipeline.lib.classify.model_selection import choose_n_splits, grouped_splits
from facesym_pipeline.lib.face.landmark_table import landmark_arrays
from facesym_pipeline.lib.face.quality import passed_frames
from facesym_pipeline.lib.media.decode import load_image_rgb
from facesym_pipeline.lib.paths import resolve_inside


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
    images = labelled_stills(inventory)
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
    groups = np.array(frame_groups(rows))
    y = np.array([s.label for s in samples], dtype=np.int64)
    # The same splitter, seed and grouping as the asymmetry classifier.
    n_splits = choose_n_splits(groups, y)
    folds = np.full(len(y), -1, dtype=np.int64)
    for k, (_, test) in enumerate(grouped_splits(np.zeros((len(y), 1)), y, groups, n_splits, seed)):
        folds[test] = k
    samples = [s._replace(subject_id=str(g)) for s, g in zip(samples, groups, strict=True)]
    return AuditData(samples, y, groups, folds)
