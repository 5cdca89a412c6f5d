"""Validity report sections on small constructed tables with a known answer: calibration
per renderer with its gross errors and intervals, and eye-measure coverage after the gate."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib.classify.validity import (
    GROSS_ERROR_MM,
    calibration_by_renderer,
    eye_measure_coverage,
)
from facesym_pipeline.lib.measure.symmetry import EYE_GATE_COLUMN, LID_MARGIN_AMBIGUOUS


def _pairs() -> pl.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    for renderer, slope, gross in (("field", 1.0, 0), ("mesh", 0.8, 2)):
        for person in range(12):
            for size in (1.0, 2.0, 3.0):
                truth = size * (1 if person % 2 else -1)
                measured = slope * truth + rng.normal(0, 0.05)
                if gross and person < gross and size == 3.0:
                    measured += 3 * GROSS_ERROR_MM  # a gross failure on two people
                rows.append(dict(measure="mouth_corner_height_diff_mm", injected="droop_gt_mm",
                                 renderer=renderer, subject_id=f"p{person}",
                                 injected_signed_mm=truth, measured_change_mm=measured))  # fmt: skip
    return pl.DataFrame(rows)


def test_calibration_is_reported_per_renderer_with_gross_errors_and_intervals():
    table = pl.DataFrame(calibration_by_renderer(_pairs()))
    value = {(r["section"], r["item"]): r for r in table.iter_rows(named=True)}
    field = "mouth_corner_height_diff_mm (field)"
    mesh = "mouth_corner_height_diff_mm (mesh)"
    assert value[("calibration_slope", field)]["value"] == pytest.approx(1.0, abs=0.03)
    assert value[("calibration_errors_over_2mm", field)]["value"] == 0
    assert value[("calibration_errors_over_2mm", mesh)]["value"] == 2
    assert value[("calibration_max_error_mm", mesh)]["value"] > 3 * GROSS_ERROR_MM - 1
    for section in ("calibration_slope", "calibration_mae_mm"):
        for item in (field, mesh):
            row = value[(section, item)]
            assert row["ci_low"] <= row["value"] <= row["ci_high"], row
            assert "12 held-out people" in row["note"] and "droop_gt_mm" in row["note"]


def test_eye_measure_coverage_counts_withheld_stills_by_renderer():
    frames = pl.DataFrame({
        "media_kind": ["image"] * 4 + ["video"],
        "eye_opening_diff_mm": [0.1, None, 0.3, None, None],
        EYE_GATE_COLUMN: [None, LID_MARGIN_AMBIGUOUS, None, LID_MARGIN_AMBIGUOUS, None],
    })  # fmt: skip
    media = pl.DataFrame({
        "media_kind": ["image"] * 4,
        "kind": ["original", "ptosis", "ptosis", "ptosis"],
        "renderer": ["none", "lid", "lid", "paint"],
        "eye_opening_diff_mm": [0.1, None, 1.0, 2.0],
    })  # fmt: skip
    rows = {r["item"]: r for r in eye_measure_coverage(frames, media)}
    assert rows["reference stills"]["value"] == 0.5 and rows["reference stills"]["n"] == 4
    assert f"{LID_MARGIN_AMBIGUOUS}: 2" in rows["reference stills"]["note"]
    assert rows["injected ptosis (lid)"]["value"] == 0.5
    assert rows["injected ptosis (paint)"]["value"] == 1.0
    assert rows["injected originals"]["value"] == 1.0
    assert all(r["ci_low"] <= r["value"] <= r["ci_high"] for r in rows.values())
