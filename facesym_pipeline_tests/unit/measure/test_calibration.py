"""Calibration table and plot on small constructed tables with a known answer."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib.measure.calibration import (
    calibration_pairs,
    calibration_plot,
    calibration_table,
)


def _labels() -> pl.DataFrame:
    rows = []
    for source in ("a.jpg", "b.jpg"):
        rows.append(dict(file=f"{source}/orig", source_file=source, kind="original",
                         side="none", droop_mm=0.0, ptosis_mm=0.0))  # fmt: skip
        for side in ("left", "right"):
            for mm in (2.0, 4.0):
                rows.append(dict(file=f"{source}/droop_{side}_{mm}", source_file=source,
                                 kind="droop", side=side, droop_mm=mm, ptosis_mm=0.0))  # fmt: skip
                rows.append(dict(file=f"{source}/ptosis_{side}_{mm}", source_file=source,
                                 kind="ptosis", side=side, droop_mm=0.0, ptosis_mm=mm))  # fmt: skip
        rows.append(dict(file=f"{source}/noise", source_file=source, kind="noise",
                         side="none", droop_mm=0.0, ptosis_mm=0.0))  # fmt: skip
    return pl.DataFrame(rows)


# Each face's natural asymmetry, which the baseline subtraction must remove.
NATURAL = {"a.jpg": (1.3, -0.4), "b.jpg": (-2.1, 0.6)}
SIGN = {"left": -1.0, "right": 1.0, "none": 0.0}


def _measured(labels: pl.DataFrame, slope: float, intercept: float) -> pl.DataFrame:
    """An instrument reading slope * signed injected + intercept on top of the face's own
    asymmetry (intercept only on asymmetric images, so the fit can recover it)."""
    mouth, eye = [], []
    for row in labels.iter_rows(named=True):
        natural_mouth, natural_eye = NATURAL[row["source_file"]]
        sign = SIGN[row["side"]]
        mouth.append(
            natural_mouth + (slope * sign * row["droop_mm"] + intercept if row["droop_mm"] else 0.0)
        )
        eye.append(natural_eye + 0.5 * sign * row["ptosis_mm"])
    return pl.DataFrame(
        {
            "file": labels["file"],
            "mouth_corner_height_diff_mm": mouth,
            "eye_opening_diff_mm": eye,
        }
    )


def test_known_slope_intercept_and_mae():
    labels = _labels()
    table = calibration_table(_measured(labels, slope=0.8, intercept=0.1), labels)
    assert table["measure"].to_list() == ["mouth_corner_height_diff_mm", "eye_opening_diff_mm"]
    mouth = table.row(0, named=True)
    assert mouth["n"] == 8
    assert mouth["slope"] == pytest.approx(0.8)
    assert mouth["intercept"] == pytest.approx(0.1)
    # |0.8 x + 0.1 - x| over x in {-4, -2, 2, 4} (two faces each): (0.9+0.5+0.3+0.7)/4.
    assert mouth["mae_mm"] == pytest.approx(0.6)
    # Tied injected values, measured ones equal only up to rounding: rho just below 1.
    assert mouth["spearman"] > 0.98
    eye = table.row(1, named=True)
    assert eye["n"] == 8
    assert eye["slope"] == pytest.approx(0.5)
    assert eye["intercept"] == pytest.approx(0.0, abs=1e-12)
    assert eye["mae_mm"] == pytest.approx(1.5)


def test_sign_follows_the_side_and_the_baseline_is_the_same_face():
    labels = _labels()
    pairs = calibration_pairs(_measured(labels, slope=1.0, intercept=0.0), labels)
    mouth = pairs.filter(pl.col("measure") == "mouth_corner_height_diff_mm")
    left = mouth.filter(pl.col("side") == "left")
    assert (left["injected_signed_mm"] < 0).all()
    np.testing.assert_allclose(mouth["measured_change_mm"], mouth["injected_signed_mm"])
    assert set(mouth["file"].to_list()).isdisjoint({"a.jpg/orig", "a.jpg/noise"})


def test_missing_measures_and_unmatched_files_are_left_out():
    labels = _labels()
    measured = _measured(labels, 1.0, 0.0).drop("eye_opening_diff_mm")
    measured = measured.filter(pl.col("file") != "b.jpg/orig")  # b loses its baseline
    table = calibration_table(measured, labels)
    assert table["measure"].to_list() == ["mouth_corner_height_diff_mm"]
    assert table["n"].to_list() == [4]
    with pytest.raises(ValueError, match="file"):
        calibration_table(measured.rename({"file": "name"}), labels)


def test_plot_is_written(tmp_path):
    labels = _labels()
    path = calibration_plot(
        _measured(labels, 0.9, 0.0), labels, tmp_path / "sub" / "cal.png", title="demo"
    )
    assert path.exists()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_ground_truth_column_replaces_the_nominal_size():
    """Where labels.csv records the truth at the measured point, calibration compares with
    it: an instrument that reads the truth exactly has slope 1 and MAE 0 against it."""
    labels = _labels().with_columns(
        (pl.col("droop_mm") * 0.97).alias("droop_gt_mm"),
        (pl.col("ptosis_mm") * 0.9).alias("ptosis_gt_mm"),
    )
    measured = _measured(labels.with_columns(pl.col("droop_gt_mm").alias("droop_mm")), 1.0, 0.0)
    table = calibration_table(measured, labels)
    mouth = table.filter(pl.col("measure") == "mouth_corner_height_diff_mm").row(0, named=True)
    assert mouth["injected"] == "droop_gt_mm"
    assert mouth["slope"] == pytest.approx(1.0) and mouth["mae_mm"] == pytest.approx(0.0, abs=1e-12)
    pairs = calibration_pairs(measured, labels)
    assert set(pairs["injected"]) == {"droop_gt_mm", "ptosis_gt_mm"}
    # Without the truth column the nominal size is the reference, as before.
    nominal = calibration_table(measured, labels.drop("droop_gt_mm", "ptosis_gt_mm"))
    assert nominal["injected"].to_list() == ["droop_mm", "ptosis_mm"]
    assert nominal.row(0, named=True)["slope"] == pytest.approx(0.97)
