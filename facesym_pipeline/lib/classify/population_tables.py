"""The normative population as the risk model and the validity report see it: per-frame
features of the reference datasets joined with who each face is (subject, fit or held
out) and, for injected variants, what was injected and by which renderer; then one row per
media with its deviations from the healthy ranges."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.classify.risk import RISK_MEASURES, media_deviations
from facesym_pipeline.lib.measure.feature_tables import frame_features
from facesym_pipeline.lib.measure.normative import deviations
from facesym_pipeline.lib.measure.reference_split import with_split
from facesym_pipeline.lib.store.lake import Lake

# Ground-truth columns of an injected dataset's labels.csv carried to every media row.
TRUTH_COLUMNS = ("kind", "side", "droop_mm", "ptosis_mm", "renderer")


def population_frames(
    symmetry: pl.DataFrame,
    functional: pl.DataFrame,
    inventory: pl.DataFrame,
    labels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per passed frame: symmetry and functional features, subject_id, label, relpath,
    split, and the injected ground truth where `labels` (labels.csv) gives one."""
    frames = frame_features(symmetry, functional)
    who = (
        inventory.filter(pl.col("status") == "ok")
        .select("dataset", "media_id", "relpath", "kind", "label", "subject_id")
        .rename({"kind": "media_kind"})
    )
    frames = frames.join(who, on=["dataset", "media_id"], how="inner")
    truth = [c for c in TRUTH_COLUMNS if labels is not None and c in labels.columns]
    if truth:
        frames = frames.join(
            labels.select(pl.col("file").alias("relpath"), *truth), on="relpath", how="left"
        )
    for column, dtype in (("kind", pl.String), ("side", pl.String), ("droop_mm", pl.Float64),
                          ("ptosis_mm", pl.Float64), ("renderer", pl.String)):  # fmt: skip
        if column not in frames.columns:
            frames = frames.with_columns(pl.lit(None, dtype).alias(column))
    frames = frames.with_columns(pl.col("kind").fill_null("original"))
    return with_split(frames.filter(pl.col("subject_id").is_not_null()))


def population_media(frames: pl.DataFrame, ranges: pl.DataFrame | None) -> pl.DataFrame:
    """One row per media: who, what was injected, and each risk measure's median value and
    deviation from the healthy range of the frame's own expression and pose."""
    devs = deviations(frames, ranges, RISK_MEASURES)
    per_media = media_deviations(devs)
    values = devs.group_by(["dataset", "media_id"], maintain_order=True).agg(
        *(pl.col(m).cast(pl.Float64).fill_nan(None).median() for m in RISK_MEASURES
          if m in devs.columns),
        *(pl.col(c).first() for c in ("relpath", "media_kind", "label", "subject_id", "split",
                                      *TRUTH_COLUMNS)),
        pl.len().alias("n_frames"),
    )  # fmt: skip
    return values.join(per_media, on=["dataset", "media_id"], how="left")


def load_population(lake: Lake, key: str, labels: pl.DataFrame | None) -> pl.DataFrame | None:
    """`population_frames` of one reference dataset partition, or None when the partition
    has no feature tables yet (the population was not built or not materialised)."""
    needed = ("symmetry_features", "functional_features", "media_inventory")
    if any(key not in lake.partitions(table) for table in needed):
        return None
    return population_frames(
        lake.read("symmetry_features", key),
        lake.read("functional_features", key),
        lake.read("media_inventory", key),
        labels,
    )
