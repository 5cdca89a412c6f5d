"""The healthy range of each measure: how asymmetric unaffected faces are in this
warehouse (frames of media labelled 0), used instead of zero as the detection threshold."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.temporal.inputs import gate_midline_measures
from facesym_pipeline.lib.temporal.thresholds import (
    DEFAULT_THRESHOLDS,
    MIN_SUBJECTS_TO_LOWER,
    thresholds_from_frames,
)

HEALTHY_SCHEMA = {
    "measure": pl.String,
    "threshold": pl.Float64,
    "n_frames": pl.Int64,
    "n_subjects": pl.Int64,
    "source": pl.String,
}


def healthy_ranges_table(symmetry: pl.DataFrame, inventory: pl.DataFrame) -> pl.DataFrame:
    """One row per temporal measure: the 95th percentile of |value| on unaffected frames,
    never below the default unless at least `MIN_SUBJECTS_TO_LOWER` people contributed."""
    healthy, n_subjects = pl.DataFrame(), 0
    if not symmetry.is_empty() and not inventory.is_empty():
        unaffected = inventory.filter(pl.col("label") == 0)
        # Measured the way the detectors read them (midline measures gated by yaw).
        healthy = gate_midline_measures(
            symmetry.join(
                unaffected.select("dataset", "media_id"), on=["dataset", "media_id"], how="semi"
            )
        )
        # Subject ids where known, else each file is its own person (an overestimate).
        n_subjects = unaffected.select(pl.coalesce("subject_id", "media_id").n_unique()).item()
    measured = thresholds_from_frames(healthy) if healthy.height else {}
    rows = []
    for measure, default in DEFAULT_THRESHOLDS.items():
        n = healthy[measure].drop_nulls().len() if measure in healthy.columns else 0
        value = measured.get(measure, default)
        if n_subjects < MIN_SUBJECTS_TO_LOWER and value < default:
            value, source = default, f"default (only {n_subjects} unaffected subjects)"
        elif value != default:
            source = "unaffected frames (p95 of |value|)"
        else:
            source = "default"
        rows.append(
            {
                "measure": measure,
                "threshold": value,
                "n_frames": n,
                "n_subjects": n_subjects,
                "source": source,
            }
        )
    return pl.DataFrame(rows, schema=HEALTHY_SCHEMA)


def thresholds_from_table(table: pl.DataFrame | None) -> dict[str, float] | None:
    if table is None or table.is_empty():
        return None
    return dict(zip(table["measure"].to_list(), table["threshold"].to_list(), strict=True))
