"""Whether a dataset has what the image models and the shortcut audit need, decided from
its inventory and frame quality (cheap: no image is read)."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.classify.grouping import frame_groups

# A test fold and an early-stopping split each hold out whole subjects of both classes.
MIN_SUBJECTS_PER_CLASS = 3


def labelled_stills(inventory: pl.DataFrame) -> pl.DataFrame:
    """The inventory's analysable labelled still images: what the audit learns from."""
    return inventory.filter(
        (pl.col("kind") == "image") & (pl.col("status") == "ok") & pl.col("label").is_not_null()
    )


def why_not_auditable(
    inventory: pl.DataFrame, quality: pl.DataFrame, excluded: bool = False
) -> str | None:
    """Why the image models and the shortcut audit have nothing to learn from a dataset, in
    words, or None when they can run: subject-grouped folds need labelled stills of both
    classes, each from at least three subjects (people, or clusters of near-duplicate photos
    where no subject is named)."""
    if excluded:
        return "the dataset is excluded from the image-model audit (configured)"
    passed = quality.filter(pl.col("passed")).select("media_id").unique()
    stills = labelled_stills(inventory).join(passed, on="media_id", how="semi")
    if stills.is_empty():
        return "no labelled still image passed quality"
    # The same grouping as the folds: near-duplicate photos of one unnamed person are one.
    grouped = stills.with_columns(group=pl.Series(frame_groups(stills)))
    per_class = dict(grouped.group_by("label").agg(pl.col("group").n_unique()).iter_rows())
    if len(per_class) < 2:
        return f"every labelled still is of class {next(iter(per_class))}"
    few = sorted(label for label, n in per_class.items() if n < MIN_SUBJECTS_PER_CLASS)
    if few:
        return (
            f"class {few[0]} has stills of {per_class[few[0]]} subject(s); the networks need "
            f"{MIN_SUBJECTS_PER_CLASS} (one held out for testing, one for early stopping, "
            "one to train on)"
        )
    return None
