"""Normative healthy ranges: how asymmetric real, unaffected people are, per measure,
conditioned on what changes normal values — the expression (neutral vs smile, from the
blendshapes; the Cincinnati scale asks the patient to smile, so the smile is the
clinically relevant case) and the head pose (bins of |yaw|).

Only frames of the reference population's FIT people are used (`reference_split`); every
figure reported about the ranges comes from the held-out people. Each person counts once:
a video's frames share one person's weight, so a 12-second video does not outvote a
hundred portraits. Percentiles of |value| are weighted by person and come with bootstrap
intervals that resample people.

A cell (measure x expression x yaw bin) with fewer than `MIN_SUBJECTS` people is not
trusted on its own: the lookup falls back to the expression pooled over pose, then to
everything pooled, then to the registry's documented default, and says which it used.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.measure.registry import MEASURES, default_limits

# Mean of mouthSmileLeft/Right at or above this is a smile. The fit population's smile
# scores are bimodal with the widest empty gap between 0.24 and 0.31.
SMILE_GATE = 0.3
# Upper edges of the |yaw| bins in degrees; the quality judge rejects beyond 25 degrees.
YAW_BIN_EDGES_DEG = (10.0, 25.0)
YAW_BINS = ("0-10", "10-25")
ANY = "any"
EXPRESSIONS = ("neutral", "smile")
PERCENTILES = (50.0, 90.0, 95.0, 99.0)
MIN_SUBJECTS = 10
N_BOOT = 200
# The measures the ranges are fitted for: every registered geometric or blendshape measure.
NORMATIVE_MEASURES: tuple[str, ...] = tuple(MEASURES)

NORMATIVE_SCHEMA = {
    "measure": pl.String,
    "expression": pl.String,
    "yaw_bin": pl.String,
    "n_frames": pl.Int64,
    "n_subjects": pl.Int64,
    "p50": pl.Float64,
    "p90": pl.Float64,
    "p95": pl.Float64,
    "p99": pl.Float64,
    "p95_ci_low": pl.Float64,
    "p95_ci_high": pl.Float64,
}


def expression_of() -> pl.Expr:
    """`smile` / `neutral` per frame from the smile blendshapes (null without them)."""
    smile = (pl.col("bs_mouthSmileLeft") + pl.col("bs_mouthSmileRight")) / 2
    return (
        pl.when(smile.is_null())
        .then(None)
        .when(smile >= SMILE_GATE)
        .then(pl.lit("smile"))
        .otherwise(pl.lit("neutral"))
        .alias("expression")
    )


def yaw_bin_of() -> pl.Expr:
    """The |yaw| bin of each frame (frames beyond the last edge fall in the last bin)."""
    yaw = pl.col("yaw_deg").abs()
    return (
        pl.when(yaw.is_null())
        .then(None)
        .when(yaw < YAW_BIN_EDGES_DEG[0])
        .then(pl.lit(YAW_BINS[0]))
        .otherwise(pl.lit(YAW_BINS[1]))
        .alias("yaw_bin")
    )


def conditions(frames: pl.DataFrame) -> pl.DataFrame:
    """`frames` (symmetry joined with functional features) with `expression` and `yaw_bin`."""
    return frames.with_columns(expression_of(), yaw_bin_of())


def _weighted_percentiles(values: np.ndarray, weights: np.ndarray, qs) -> np.ndarray:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    # Midpoint rule: each value sits at the centre of its weight, as numpy's linear
    # percentile does for equal weights.
    cum = (np.cumsum(w) - w / 2) / w.sum()
    return np.interp(np.asarray(qs) / 100.0, cum, v)


def _cell_row(values: np.ndarray, subjects: np.ndarray, rng: np.random.Generator) -> dict:
    people, index = np.unique(subjects, return_inverse=True)
    per_person = np.bincount(index)
    weights = 1.0 / per_person[index]
    p50, p90, p95, p99 = _weighted_percentiles(values, weights, PERCENTILES)
    boot = np.empty(N_BOOT)
    for b in range(N_BOOT):
        # Resample people: how often each person is drawn multiplies their weight.
        drawn = np.bincount(rng.integers(0, people.size, people.size), minlength=people.size)
        w = weights * drawn[index]
        boot[b] = _weighted_percentiles(values[w > 0], w[w > 0], [95.0])[0]
    low, high = np.percentile(boot, [2.5, 97.5])
    return {
        "n_frames": int(values.size),
        "n_subjects": int(people.size),
        "p50": float(p50),
        "p90": float(p90),
        "p95": float(p95),
        "p99": float(p99),
        "p95_ci_low": float(low),
        "p95_ci_high": float(high),
    }


def fit_normative_ranges(frames: pl.DataFrame, seed: int = 0) -> pl.DataFrame:
    """One row per measure and condition (each expression x yaw bin, each expression over
    every pose, and everything pooled) from frames of unaffected FIT people.

    `frames`: per-frame symmetry + functional features with `subject_id`, `yaw_deg` and the
    smile blendshapes. Cells without any value are left out."""
    rng = np.random.default_rng(seed)
    framed = conditions(frames)
    rows = []
    groups = [(e, y) for e in EXPRESSIONS for y in YAW_BINS] + [(e, ANY) for e in EXPRESSIONS]
    groups.append((ANY, ANY))
    for measure in NORMATIVE_MEASURES:
        if measure not in framed.columns:
            continue
        for expression, yaw_bin in groups:
            cell = framed.filter(pl.col(measure).is_not_null() & pl.col(measure).is_not_nan())
            if expression != ANY:
                cell = cell.filter(pl.col("expression") == expression)
            if yaw_bin != ANY:
                cell = cell.filter(pl.col("yaw_bin") == yaw_bin)
            if cell.height == 0:
                continue
            values = cell[measure].cast(pl.Float64).abs().to_numpy()
            subjects = cell["subject_id"].cast(pl.String).to_numpy()
            rows.append(
                {"measure": measure, "expression": expression, "yaw_bin": yaw_bin}
                | _cell_row(values, subjects, rng)
            )
    return pl.DataFrame(rows, schema=NORMATIVE_SCHEMA)


def limit_table(ranges: pl.DataFrame | None) -> pl.DataFrame:
    """The limit (p95 of |value|) every measure gets in every condition, after the
    fallbacks: columns measure, expression, yaw_bin, limit, n_subjects, source."""
    cells = [(e, y) for e in (*EXPRESSIONS, ANY) for y in (*YAW_BINS, ANY)]
    trusted: dict[tuple[str, str, str], tuple[float, int]] = {}
    if ranges is not None and ranges.height:
        for r in ranges.filter(pl.col("n_subjects") >= MIN_SUBJECTS).iter_rows(named=True):
            trusted[(r["measure"], r["expression"], r["yaw_bin"])] = (r["p95"], r["n_subjects"])
    rows = []
    for measure, default in default_limits(NORMATIVE_MEASURES).items():
        for expression, yaw_bin in cells:
            limit, n, source = _resolve(trusted, measure, expression, yaw_bin, default)
            rows.append(
                {
                    "measure": measure,
                    "expression": expression,
                    "yaw_bin": yaw_bin,
                    "limit": float(limit),
                    "n_subjects": n,
                    "source": source,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "measure": pl.String,
            "expression": pl.String,
            "yaw_bin": pl.String,
            "limit": pl.Float64,
            "n_subjects": pl.Int64,
            "source": pl.String,
        },
    )


def _resolve(trusted, measure, expression, yaw_bin, default) -> tuple[float, int, str]:
    """The most specific trusted range for a condition, else the registry default."""
    for key, source in (
        ((measure, expression, yaw_bin), "normative: this expression and pose"),
        ((measure, expression, ANY), "normative: this expression, pose pooled"),
        ((measure, ANY, ANY), "normative: all frames pooled"),
    ):
        if key in trusted:
            return (*trusted[key], source)
    return default, 0, "registry default (no normative range)"


def pooled_limits(ranges: pl.DataFrame | None, expression: str = ANY) -> dict[str, float]:
    """measure -> limit for one expression over every pose (defaults where unfitted): the
    thresholds of the video trends, which see both expressions within one video."""
    table = limit_table(ranges).filter(
        (pl.col("expression") == expression) & (pl.col("yaw_bin") == ANY)
    )
    return dict(zip(table["measure"], table["limit"], strict=True))


def deviations(frames: pl.DataFrame, ranges: pl.DataFrame | None, measures) -> pl.DataFrame:
    """`frames` with `<measure>_dev` = |value| / the healthy limit of the frame's own
    expression and yaw bin (1.0 = at the healthy p95). A frame whose expression or pose is
    unknown is compared with the pooled range."""
    limits = limit_table(ranges)
    framed = conditions(frames).with_columns(
        pl.col("expression").fill_null(ANY), pl.col("yaw_bin").fill_null(ANY)
    )
    out = framed
    for m in measures:
        if m not in framed.columns:
            out = out.with_columns(pl.lit(None, pl.Float64).alias(f"{m}_dev"))
            continue
        lim = limits.filter(pl.col("measure") == m).select(
            "expression", "yaw_bin", pl.col("limit").alias(f"_{m}_limit")
        )
        out = out.join(lim, on=["expression", "yaw_bin"], how="left").with_columns(
            (pl.col(m).cast(pl.Float64).abs() / pl.col(f"_{m}_limit")).alias(f"{m}_dev")
        )
        out = out.drop(f"_{m}_limit")
    return out
