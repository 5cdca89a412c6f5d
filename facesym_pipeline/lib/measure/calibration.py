"""Measurement calibration on faces with a known injected asymmetry.

For every injected image, the measured value minus the value on the same source face's
symmetric original is compared with the injected amount, signed the way the measure's
`diff` reads it (subject's left minus right): a left mouth-corner droop of d mm should
lower the left corner and give -d, a right one +d; a left ptosis of p mm narrows the left
eye and gives -p. Subtracting the original removes each face's natural asymmetry, so the
table describes the instrument, not the faces. Nothing here is fitted back into the
measures: the slope and intercept are reported, never applied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats


@dataclass(frozen=True)
class CalibratedMeasure:
    measure: str  # column of the measured table
    injected: str  # column of labels.csv holding the injected amount in mm (nominal size)
    description: str
    # Column of labels.csv holding the ground truth in the measure's own units at the point
    # it reads, where the dataset records one (the nominal size is then only which rows
    # are injected): the renderer's fall-off between the landmark it was sized on and the
    # refined point, and frontalisation, make the two differ by a few per cent.
    truth: str | None = None


CALIBRATED_MEASURES: tuple[CalibratedMeasure, ...] = (
    CalibratedMeasure(
        "mouth_corner_height_diff_mm", "droop_mm", "mouth-corner droop", "droop_gt_mm"
    ),
    CalibratedMeasure(
        "eye_opening_diff_mm", "ptosis_mm", "upper-lid ptosis (fissure)", "ptosis_gt_mm"
    ),
    CalibratedMeasure("mrd1_diff_mm", "ptosis_mm", "upper-lid ptosis (MRD1)", "ptosis_gt_mm"),
)
# The injected side reads as negative in a left-minus-right difference.
SIDE_SIGN = {"left": -1.0, "right": 1.0}
TABLE_SCHEMA = {
    "measure": pl.String,
    "injected": pl.String,
    "n": pl.Int64,
    "slope": pl.Float64,
    "intercept": pl.Float64,
    "mae_mm": pl.Float64,
    "spearman": pl.Float64,
}
_KEY_CANDIDATES = ("file", "relpath")


def _key_column(measured: pl.DataFrame) -> str:
    for name in _KEY_CANDIDATES:
        if name in measured.columns:
            return name
    raise ValueError(
        f"measured table needs one of {_KEY_CANDIDATES} matching labels.csv's 'file' column"
    )


def calibration_pairs(measured: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Long table (measure, injected, file, source, side, injected_signed_mm,
    measured_change_mm).

    `measured` holds one row per image with a `file` (or `relpath`) column as in
    labels.csv and any of the measure columns; `labels` is labels.csv. The baseline of a
    source face is its `kind == "original"` image (the same face, untouched); sources
    without one, and images whose measure is null, are left out. `injected_signed_mm` is
    the ground truth column's value where labels.csv has one (`injected` then names it),
    else the nominal size.
    """
    key = _key_column(measured)
    source = "source_file" if "source_file" in labels.columns else "subject_id"
    joined = labels.join(
        measured.rename({key: "file"}) if key != "file" else measured, on="file", how="inner"
    )
    frames = []
    for spec in CALIBRATED_MEASURES:
        if spec.measure not in joined.columns or spec.injected not in joined.columns:
            continue
        value = pl.col(spec.measure).cast(pl.Float64)
        baseline = (
            joined.filter(pl.col("kind") == "original")
            .group_by(source)
            .agg(value.drop_nulls().mean().alias("_baseline"))
        )
        injected = joined.filter(pl.col(spec.injected) > 0).join(baseline, on=source)
        reference = spec.truth if spec.truth in joined.columns else spec.injected
        frames.append(
            injected.select(
                pl.lit(spec.measure).alias("measure"),
                pl.lit(reference).alias("injected"),
                pl.col("file"),
                pl.col(source).alias("source"),
                pl.col("side"),
                (
                    pl.col(reference).cast(pl.Float64)
                    * pl.col("side").replace_strict(SIDE_SIGN, default=None)
                ).alias("injected_signed_mm"),
                (value - pl.col("_baseline")).alias("measured_change_mm"),
            ).drop_nulls(["injected_signed_mm", "measured_change_mm"])
        )
    if not frames:
        return pl.DataFrame(
            schema={
                "measure": pl.String,
                "injected": pl.String,
                "file": pl.String,
                "source": pl.String,
                "side": pl.String,
                "injected_signed_mm": pl.Float64,
                "measured_change_mm": pl.Float64,
            }
        )
    return pl.concat(frames)


def fit_summary(injected: np.ndarray, measured: np.ndarray) -> dict[str, float | int]:
    """Least-squares slope and intercept of measured on injected, MAE of measured against
    injected (the identity, i.e. the error a reader of the measure would see), Spearman."""
    x = np.asarray(injected, dtype=np.float64)
    y = np.asarray(measured, dtype=np.float64)
    n = len(x)
    out: dict[str, float | int] = {"n": n}
    if n >= 2 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        out["slope"], out["intercept"] = float(slope), float(intercept)
    else:
        out["slope"] = out["intercept"] = float("nan")
    out["mae_mm"] = float(np.mean(np.abs(y - x))) if n else float("nan")
    if n >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        out["spearman"] = float(stats.spearmanr(x, y).statistic)
    else:
        out["spearman"] = float("nan")
    return out


def calibration_table(measured: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame:
    """Per measure: n, slope, intercept, MAE (mm) and Spearman rho of the measured change
    against the signed injected change (see the module docstring); one row per measure
    present in `measured`. A perfect instrument reads slope 1, intercept 0, MAE 0."""
    pairs = calibration_pairs(measured, labels)
    rows = []
    for spec in CALIBRATED_MEASURES:
        sub = pairs.filter(pl.col("measure") == spec.measure)
        if sub.is_empty():
            continue
        summary = fit_summary(
            sub["injected_signed_mm"].to_numpy(), sub["measured_change_mm"].to_numpy()
        )
        reference = sub["injected"][0]  # the truth column where the labels have one
        rows.append({"measure": spec.measure, "injected": reference, **summary})
    return pl.DataFrame(rows, schema=TABLE_SCHEMA)


def calibration_plot(
    measured: pl.DataFrame, labels: pl.DataFrame, out_path: Path, title: str | None = None
) -> Path:
    """Scatter of measured vs injected change per measure, with the identity line and the
    least-squares fit; written as PNG to `out_path`, which is returned."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pairs = calibration_pairs(measured, labels)
    specs = [s for s in CALIBRATED_MEASURES if s.measure in set(pairs["measure"].to_list())]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    n_panels = max(len(specs), 1)
    fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, 4.2), squeeze=False)
    if not specs:
        axes[0, 0].text(0.5, 0.5, "no injected asymmetry to calibrate on", ha="center")
        axes[0, 0].set_axis_off()
    for ax, spec in zip(axes[0], specs, strict=False):
        sub = pairs.filter(pl.col("measure") == spec.measure)
        x = sub["injected_signed_mm"].to_numpy()
        y = sub["measured_change_mm"].to_numpy()
        summary = fit_summary(x, y)
        lim = float(max(np.abs(x).max(), np.abs(y).max(), 1.0)) * 1.1
        ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=1, ls="--", label="identity")
        ax.scatter(x, y, s=14, alpha=0.7)
        if np.isfinite(summary["slope"]):
            grid = np.array([-lim, lim])
            ax.plot(
                grid,
                summary["slope"] * grid + summary["intercept"],
                color="C3",
                lw=1.5,
                label=f"fit: slope {summary['slope']:.2f}",
            )
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xlabel("injected change (mm, signed L-R)")
        ax.set_ylabel("measured change (mm)")
        ax.set_title(
            f"{spec.measure}\nMAE {summary['mae_mm']:.2f} mm, rho {summary['spearman']:.2f}, "
            f"n {summary['n']}",
            fontsize=9,
        )
        ax.legend(fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
