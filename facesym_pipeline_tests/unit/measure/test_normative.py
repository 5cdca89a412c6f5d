"""Normative ranges: percentiles weighted by person, conditioned on expression and yaw,
with fallbacks that say what they used."""

import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib.measure.normative import (
    ANY,
    MIN_SUBJECTS,
    deviations,
    fit_normative_ranges,
    limit_table,
    pooled_limits,
)
from facesym_pipeline.lib.measure.registry import default_limits

MOUTH = "mouth_corner_height_diff_mm"


def _frames(n_people: int, smile_scale: float, neutral_scale: float, seed: int = 0):
    """One neutral and one smiling frame per person, frontal, |mouth| ~ |N(0, scale)|."""
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(n_people):
        for smile, scale in ((0.8, smile_scale), (0.05, neutral_scale)):
            rows.append({"subject_id": f"p{person}", "yaw_deg": 3.0, MOUTH: rng.normal(0, scale),
                         "bs_mouthSmileLeft": smile, "bs_mouthSmileRight": smile})  # fmt: skip
    return pl.DataFrame(rows)


def test_ranges_are_conditioned_on_expression():
    ranges = fit_normative_ranges(_frames(200, smile_scale=2.0, neutral_scale=0.5))
    p95 = {
        (r["expression"], r["yaw_bin"]): r["p95"]
        for r in ranges.filter(pl.col("measure") == MOUTH).iter_rows(named=True)
    }
    # 95th percentile of |N(0, s)| is 1.96 s
    assert p95[("smile", "0-10")] == pytest.approx(1.96 * 2.0, rel=0.15)
    assert p95[("neutral", "0-10")] == pytest.approx(1.96 * 0.5, rel=0.15)
    row = ranges.filter((pl.col("measure") == MOUTH) & (pl.col("expression") == "smile")).row(
        0, named=True
    )
    assert row["p95_ci_low"] < row["p95"] < row["p95_ci_high"]
    assert row["n_subjects"] == 200


def test_a_person_with_many_frames_counts_once():
    people = _frames(40, 0.5, 0.5)
    # One extra person contributes 500 huge frames: they must not own the percentiles.
    flood = pl.DataFrame({"subject_id": ["video"] * 500, "yaw_deg": [3.0] * 500,
                          MOUTH: [20.0] * 500, "bs_mouthSmileLeft": [0.8] * 500,
                          "bs_mouthSmileRight": [0.8] * 500})  # fmt: skip
    ranges = fit_normative_ranges(pl.concat([people, flood]))
    pooled = ranges.filter((pl.col("measure") == MOUTH) & (pl.col("expression") == ANY))
    assert pooled["p50"][0] < 1.0


def test_small_cells_fall_back_and_say_so():
    few = fit_normative_ranges(_frames(MIN_SUBJECTS - 1, 1.0, 1.0))
    table = limit_table(few).filter(pl.col("measure") == MOUTH)
    assert set(table["source"]) == {"registry default (no normative range)"}
    assert pooled_limits(few)[MOUTH] == default_limits()[MOUTH]
    enough = limit_table(fit_normative_ranges(_frames(MIN_SUBJECTS + 5, 1.0, 1.0)))
    turned = enough.filter(
        (pl.col("measure") == MOUTH)
        & (pl.col("expression") == "smile")
        & (pl.col("yaw_bin") == "10-25")
    )
    assert turned["source"][0] == "normative: this expression, pose pooled"


def test_deviation_is_the_value_in_units_of_its_own_conditions_limit():
    ranges = fit_normative_ranges(_frames(100, smile_scale=2.0, neutral_scale=0.5))
    face = pl.DataFrame({MOUTH: [2.0, 2.0], "yaw_deg": [2.0, 2.0],
                         "bs_mouthSmileLeft": [0.9, 0.0], "bs_mouthSmileRight": [0.9, 0.0]})  # fmt: skip
    dev = deviations(face, ranges, [MOUTH])[f"{MOUTH}_dev"].to_list()
    assert dev[0] < 1.0 < dev[1]  # 2 mm is ordinary in a smile, beyond range at rest
