"""Expression awareness: a lopsided smile in which both sides move is not read as droop;
a smile in which one side barely moves stays evidence."""

import numpy as np
import polars as pl

from facesym_pipeline.demo.synthetic_series import synthetic_video
from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.expression import (
    dilate,
    expression_balance,
    remove_expression_component,
    rom_ratio,
)
from facesym_pipeline.lib.temporal.region import analyze_region
from facesym_pipeline.lib.temporal.series import build_temporal_series

UNAWARE = TemporalConfig(min_rom_ratio=1.01)  # never treats an expression as bilateral


def test_rom_ratio():
    assert np.allclose(rom_ratio(np.array([0.0, 1.0, -1 / 3])), [1.0, 0.0, 0.5])


def test_balance_from_raw_blendshapes_or_gated_asym():
    grid = pl.DataFrame(
        {"bs_mouthSmileLeft": [0.0, 0.6, 0.8], "bs_mouthSmileRight": [0.0, 0.6, 0.2]}
    )
    active, bal, inten = expression_balance(grid, "smile", 0.25)
    assert active.tolist() == [False, True, True]
    assert np.isnan(bal[0]) and bal[1] == 0 and abs(bal[2] - 0.6) < 1e-9
    assert np.allclose(inten, [0, 0.6, 0.5])
    only_asym = pl.DataFrame({"bs_mouthSmile_asym": [None, 0.1, -0.5]})
    active, bal, _ = expression_balance(only_asym, "smile", 0.25)
    assert active.tolist() == [False, True, True] and bal[2] == -0.5


def test_lopsided_healthy_smile_is_not_droop():
    for seed in range(4):
        frames = synthetic_video("symmetric_control", fps=5, seed=seed, smile_lopsided_mm=3.5)
        aware = analyze_region(build_temporal_series(frames), "mouth")
        unaware = analyze_region(build_temporal_series(frames, UNAWARE), "mouth", config=UNAWARE)
        assert not aware.flagged
        assert unaware.primary.persistence.time_beyond_s > aware.primary.persistence.time_beyond_s
        assert aware.rom["rom_ratio"] > 0.7


def test_droop_during_smiles_is_kept():
    # a constant droop must survive the smile adjustment (it is present at rest too)
    frames = synthetic_video("droop_constant_left", fps=5, seed=1)
    s = build_temporal_series(frames)
    smiling = s.filter(pl.col("smile_adjusted"))
    assert smiling.height > 5
    assert smiling["mouth_corner_height_diff_mm_smooth"].median() < -3.0


def test_one_sided_smile_keeps_evidence():
    frames = synthetic_video("droop_growing_left", fps=10, seed=2, weak_side_rom=0.05)
    s = build_temporal_series(frames)
    r = analyze_region(s, "mouth")
    late = s.filter((pl.col("t_s") > 8.0) & pl.col("smile_active"))
    assert late.height > 0 and not late["smile_adjusted"].any()
    assert r.rom["weaker_side"] == "left"
    assert r.flagged and r.label == "worsening"


def test_expression_held_throughout_leaves_values_unchanged():
    # A smile held for the whole clip has no resting reference: its gain cannot be fitted,
    # and a near-constant intensity once turned 1 mm of jitter into tens of mm of offset.
    rng = np.random.default_rng(0)
    t = np.arange(40) / 5.0
    values = 1.2 + rng.normal(0, 0.3, t.size)
    intensity = 0.945 + rng.normal(0, 0.003, t.size)
    held = np.ones(t.size, dtype=bool)
    out = remove_expression_component(t, values, held, intensity)
    np.testing.assert_array_equal(out, values)
    # The same smile rising from rest is fitted and removed.
    rising = np.where(t < 3.0, 0.0, 0.9)
    smiling = 0.5 + 4.0 * rising + rng.normal(0, 0.1, t.size)
    active = rising > 0
    adjusted = remove_expression_component(t, smiling, active, rising)
    assert abs(np.median(adjusted[active]) - 0.5) < 0.3


def test_dilation_keeps_the_length_of_a_series_shorter_than_its_margin():
    # Two frames at 5 fps with a 0.4 s margin: the kernel (5) is longer than the series.
    assert dilate(np.array([True, False]), 5.0, 0.4).tolist() == [True, True]
    long = np.zeros(20, dtype=bool)
    long[10] = True
    assert np.flatnonzero(dilate(long, 5.0, 0.4)).tolist() == [8, 9, 10, 11, 12]
