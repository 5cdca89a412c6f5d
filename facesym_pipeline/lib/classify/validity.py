"""How far the risk signal and the instrument can be trusted, measured on the HELD-OUT
people of the normative population only (never used to fit ranges, risk model or levels):
false-alarm rates by level, ranking of injected asymmetry against the same person's
original by size and renderer, calibration per renderer, coverage of the eye measures
after the lid-margin gate, spread across pose in real videos, and rejection rates by
reason. Every rate comes with a 95 % interval (Wilson for proportions, people resampled
for the rest)."""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.classify.risk import RiskModel, deviation_matrix
from facesym_pipeline.lib.measure.calibration import calibration_pairs, fit_summary
from facesym_pipeline.lib.measure.reference_split import HELD_OUT, with_split
from facesym_pipeline.lib.measure.symmetry import EYE_GATE_COLUMN

VALIDITY_SCHEMA = {
    "section": pl.String,
    "item": pl.String,
    "n": pl.Int64,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "note": pl.String,
}
Z95 = 1.959964
N_BOOT = 1000
# The yaw range over which a turning face should read the same asymmetry.
SPREAD_MAX_ABS_YAW_DEG = 15.0


def _row(section, item, n, value, low=None, high=None, note="") -> dict:
    f = lambda v: None if v is None or not np.isfinite(v) else float(v)  # noqa: E731
    return {"section": section, "item": item, "n": int(n), "value": f(value),
            "ci_low": f(low), "ci_high": f(high), "note": note}  # fmt: skip


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def false_alarms(healthy_media: pl.DataFrame, model: RiskModel) -> list[dict]:
    """Share of held-out healthy media rated `high`, and `elevated` or `high`."""
    scores = model.scores(deviation_matrix(healthy_media))
    levels = [model.level(s) for s in scores]
    n = len(levels)
    rows = []
    for item, hit in (("high", {"high"}), ("elevated_or_high", {"elevated", "high"})):
        k = sum(level in hit for level in levels)
        rows.append(_row("false_alarm_rate", item, n, k / n if n else None, *wilson(k, n),
                         f"{k} of {n} held-out healthy media; method {model.method}"))  # fmt: skip
    return rows


def paired_auc(orig: np.ndarray, inj: np.ndarray) -> float:
    """P(injected scores above the same person's original), ties counted half."""
    return float(np.mean((inj > orig) + 0.5 * (inj == orig)))


def ranking(media: pl.DataFrame, model: RiskModel, seed: int = 0) -> list[dict]:
    """Paired AUC per asymmetry, renderer and size on held-out people: each injected
    variant against the same person's original, people resampled for the interval."""
    scored = media.with_columns(pl.Series("score", model.scores(deviation_matrix(media))))
    originals = (
        scored.filter(pl.col("kind") == "original")
        .group_by("subject_id")
        .agg(pl.col("score").mean().alias("original_score"))
    )
    injected = scored.filter(pl.col("kind").is_in(["droop", "ptosis"])).join(
        originals, on="subject_id", how="inner"
    )
    rng = np.random.default_rng(seed)
    rows = []
    for (kind, renderer, size), group in sorted(
        injected.with_columns(
            pl.when(pl.col("kind") == "droop").then("droop_mm").otherwise("ptosis_mm")
            .alias("_size_col"),
            pl.max_horizontal(pl.col("droop_mm").fill_null(0), pl.col("ptosis_mm").fill_null(0))
            .alias("size_mm"),
        ).group_by(["kind", "renderer", "size_mm"]),
        key=lambda t: (t[0][0], str(t[0][1]), t[0][2]),
    ):  # fmt: skip
        inj, orig = group["score"].to_numpy(), group["original_score"].to_numpy()
        people, index = np.unique(group["subject_id"].to_numpy(), return_inverse=True)
        boot = []
        for _ in range(N_BOOT):
            counts = np.bincount(rng.integers(0, people.size, people.size), minlength=people.size)
            w = counts[index].astype(float)
            wins = (inj > orig) + 0.5 * (inj == orig)
            boot.append(np.sum(w * wins) / max(np.sum(w), 1e-12))
        low, high = np.percentile(boot, [2.5, 97.5])
        rows.append(_row("ranking_auc", f"{kind} {size:g} mm ({renderer})", group.height,
                         paired_auc(orig, inj), low, high,
                         f"{people.size} held-out people; method {model.method}"))  # fmt: skip
    return rows


# A calibration error beyond this is a gross failure of the instrument on that face.
GROSS_ERROR_MM = 2.0


def _people_weights(subjects: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N_BOOT, n) weights of the rows when people are resampled with replacement."""
    people, index = np.unique(subjects, return_inverse=True)
    counts = np.stack(
        [np.bincount(rng.integers(0, people.size, people.size), minlength=people.size)
         for _ in range(N_BOOT)]
    )  # fmt: skip
    return counts[:, index].astype(float)


def calibration_by_renderer(pairs: pl.DataFrame, seed: int = 0) -> list[dict]:
    """Per measure and renderer: least-squares slope, MAE, largest error and the number of
    errors beyond `GROSS_ERROR_MM` of the measured change against the injected one
    (`pairs`: `calibration_pairs` rows of held-out people with `renderer` and `subject_id`
    columns; the injected change is the ground truth at the measured point where labels.csv
    records one). Slope and MAE come with people-resampled 95 % intervals."""
    rng = np.random.default_rng(seed)
    rows = []
    for (measure, renderer), group in sorted(
        pairs.group_by(["measure", "renderer"]), key=lambda t: (t[0][0], str(t[0][1]))
    ):
        x = group["injected_signed_mm"].to_numpy()
        y = group["measured_change_mm"].to_numpy()
        fit = fit_summary(x, y)
        item = f"{measure} ({renderer})"
        people = group["subject_id"].n_unique() if "subject_id" in group.columns else None
        note = f"{people} held-out people; against {group['injected'][0]}" if people else ""
        low = {"slope": (None, None), "mae": (None, None)}
        if people and x.size >= 3:
            w = _people_weights(group["subject_id"].to_numpy(), rng)
            sw = np.maximum(w.sum(axis=1), 1e-12)
            mae = (w * np.abs(y - x)).sum(axis=1) / sw
            mx, my = (w * x).sum(axis=1) / sw, (w * y).sum(axis=1) / sw
            cov = (w * (x - mx[:, None]) * (y - my[:, None])).sum(axis=1)
            var = (w * (x - mx[:, None]) ** 2).sum(axis=1)
            slope = np.where(var > 0, cov / np.maximum(var, 1e-12), np.nan)
            low["slope"] = tuple(np.nanpercentile(slope, [2.5, 97.5]))
            low["mae"] = tuple(np.percentile(mae, [2.5, 97.5]))
        err = np.abs(y - x)
        rows.append(_row("calibration_slope", item, fit["n"], fit["slope"], *low["slope"], note))
        rows.append(_row("calibration_mae_mm", item, fit["n"], fit["mae_mm"], *low["mae"], note))
        rows.append(_row("calibration_max_error_mm", item, fit["n"],
                         float(err.max()) if x.size else None, note=note))  # fmt: skip
        k = int((err > GROSS_ERROR_MM).sum())
        rows.append(_row(f"calibration_errors_over_{GROSS_ERROR_MM:g}mm", item, fit["n"], k,
                         note=note))  # fmt: skip
    return rows


def eye_measure_coverage(
    reference_frames: pl.DataFrame, injected_media: pl.DataFrame | None
) -> list[dict]:
    """Share of held-out stills whose eye measures are reported (not withheld by the
    lid-margin gate, `symmetry.EYE_GATE_COLUMN`): healthy reference portraits, and the
    injected images per asymmetry and renderer. Wilson intervals."""
    rows = []
    stills = reference_frames.filter(pl.col("media_kind") == "image")
    groups = [("reference stills", stills)]
    if injected_media is not None and injected_media.height:
        for (kind, renderer), group in sorted(
            injected_media.filter(pl.col("media_kind") == "image").group_by(["kind", "renderer"]),
            key=lambda t: (str(t[0][0]), str(t[0][1])),
        ):
            item = "injected originals" if kind == "original" else f"injected {kind} ({renderer})"
            groups.append((item, group))
    for item, group in groups:
        if "eye_opening_diff_mm" not in group.columns or group.height == 0:
            continue
        n = group.height
        k = int(group["eye_opening_diff_mm"].is_not_null().sum())
        note = f"{k} of {n} held-out stills report the eye measures"
        if EYE_GATE_COLUMN in group.columns:
            reasons = group[EYE_GATE_COLUMN].drop_nulls().value_counts(sort=True)
            note += "".join(f"; {r}: {c}" for r, c in reasons.iter_rows())
        rows.append(_row("eye_measure_coverage", item, n, k / n, *wilson(k, n), note))
    return rows


def pose_spread(video_frames: pl.DataFrame) -> list[dict]:
    """Per held-out video: spread (p95 - p5, and max - min) of the mouth-corner height
    difference over frames with |yaw| within `SPREAD_MAX_ABS_YAW_DEG`."""
    rows = []
    steady = video_frames.filter(pl.col("yaw_deg").abs() <= SPREAD_MAX_ABS_YAW_DEG)
    for (subject,), group in sorted(steady.group_by(["subject_id"]), key=lambda t: t[0]):
        v = group["mouth_corner_height_diff_mm"].drop_nulls().drop_nans().to_numpy()
        if v.size < 2:
            continue
        p5, p95 = np.percentile(v, [5, 95])
        note = f"{v.size} frames with |yaw| <= {SPREAD_MAX_ABS_YAW_DEG:g} deg"
        rows.append(_row("pose_spread_p95_p5_mm", subject, v.size, p95 - p5, note=note))
        rows.append(_row("pose_spread_max_min_mm", subject, v.size, np.ptp(v), note=note))
    return rows


def false_asymmetry_by_yaw(photos: pl.DataFrame) -> list[dict]:
    """Median |mouth-corner height difference| of held-out healthy photos per |yaw| bin:
    asymmetry that the pose alone puts into the measure."""
    rows = []
    binned = photos.with_columns((pl.col("yaw_deg").abs() // 5 * 5).alias("yaw_from")).filter(
        pl.col("mouth_corner_height_diff_mm").is_not_null()
    )
    for (start,), group in sorted(binned.group_by(["yaw_from"]), key=lambda t: t[0]):
        v = group["mouth_corner_height_diff_mm"].abs().to_numpy()
        rows.append(_row("false_asymmetry_by_yaw_mm", f"|yaw| {start:g}-{start + 5:g} deg",
                         v.size, float(np.median(v))))  # fmt: skip
    return rows


def rejection_rates(quality: pl.DataFrame) -> list[dict]:
    """Share of held-out frames rejected, overall and by reason (a frame can have several)."""
    n = quality.height
    rows = []
    k = int((~quality["passed"]).sum()) if n else 0
    rows.append(_row("rejection_rate", "any reason", n, k / n if n else None, *wilson(k, n)))
    reasons = (
        quality.select(pl.col("reasons").explode().str.split(":").list.first())
        .drop_nulls()["reasons"]
        .value_counts()
    )
    for reason, count in sorted(reasons.iter_rows()):
        rows.append(_row("rejection_rate", reason, n, count / n, *wilson(count, n)))
    return rows


def calibration_by_person(measured: pl.DataFrame, labels: pl.DataFrame) -> pl.DataFrame | None:
    """`calibration_pairs` of an injected dataset with each pair's renderer, subject and
    split (None when its labels name no renderer)."""
    if "renderer" not in labels.columns:
        return None
    pairs = calibration_pairs(measured, labels).join(
        labels.select("file", "renderer", "subject_id"), on="file", how="left"
    )
    return with_split(pairs)


def quality_by_person(quality: pl.DataFrame, inventory: pl.DataFrame) -> pl.DataFrame:
    """`frame_quality` rows with the subject and split of their media."""
    return with_split(quality.join(inventory.select("media_id", "subject_id"), on="media_id"))


def held_out(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("split") == HELD_OUT)


def validity_table(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=VALIDITY_SCHEMA)


def validity_rows(
    reference_frames: pl.DataFrame,
    reference_media: pl.DataFrame,
    injected_media: pl.DataFrame | None,
    calibration: pl.DataFrame | None,
    quality: pl.DataFrame,
    model: RiskModel,
    seed: int = 0,
) -> pl.DataFrame:
    """The whole report on held-out people: `reference_*` from the healthy reference
    dataset, `injected_media` from the injected one, `calibration` its `calibration_pairs`
    with `renderer` and `split` columns, `quality` the reference `frame_quality` rows with
    `split`."""
    healthy = held_out(reference_media).filter(pl.col("label") == 0)
    rows = false_alarms(healthy, model)
    if injected_media is not None and injected_media.height:
        rows += ranking(held_out(injected_media), model, seed)
    if calibration is not None and calibration.height:
        rows += calibration_by_renderer(held_out(calibration), seed)
    frames = held_out(reference_frames)
    rows += eye_measure_coverage(
        frames, None if injected_media is None else held_out(injected_media)
    )
    rows += pose_spread(frames.filter(pl.col("media_kind") == "video"))
    rows += false_asymmetry_by_yaw(frames.filter(pl.col("media_kind") == "image"))
    rows += rejection_rates(held_out(quality))
    return validity_table(rows)
