"""Persistence: brief events do not trigger, sustained asymmetry does, in seconds."""

import numpy as np

from facesym_pipeline.lib.temporal.persistence import persistence, runs


def _series(fps, events, base=0.3, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(int(10 * fps)) / fps
    v = base + rng.normal(0, 0.15, t.size)
    for a, b, level in events:
        v[(t >= a - 1e-9) & (t < b - 1e-9)] = level
    return t, v


def test_runs():
    assert runs(np.array([0, 1, 1, 0, 1], bool)) == [(1, 3), (4, 5)]
    assert runs(np.zeros(3, bool)) == []


def test_single_outlier_frame_and_blink_do_not_trigger():
    for fps in (5.0, 10.0):
        t, v = _series(fps, [(2.0, 2.0 + 1 / fps, 6.0), (6.0, 6.3, 4.0)])
        p = persistence(t, v, threshold=2.0, fps=fps, min_duration_s=2.0, window_s=3.0)
        assert not p.flagged
        assert p.spans == []
        assert p.longest_run_s <= 0.4 + 1e-9  # 0.3 s covers two frames at 5 fps


def test_sustained_asymmetry_flags_same_at_5_and_10_fps():
    results = []
    for fps in (5.0, 10.0):
        t, v = _series(fps, [(3.0, 6.6, -3.0)])
        p = persistence(t, v, threshold=2.0, fps=fps)
        results.append(p)
        assert p.flagged
        assert abs(p.longest_run_s - 3.6) < 1e-6
        assert abs(p.fraction_beyond - 0.36) < 1e-6
        assert np.allclose(p.spans, [(3.0, 6.6)])
    assert results[0].first_flag_s == results[1].first_flag_s


def test_noise_dips_inside_window_do_not_reset():
    fps = 5.0
    t, v = _series(fps, [(2.0, 3.2, 3.0), (3.4, 4.4, 3.0)])  # 2.2 s beyond, 0.2 s dip
    p = persistence(t, v, threshold=2.0, fps=fps, min_duration_s=2.0, window_s=3.0)
    assert p.flagged and p.longest_run_s < 2.0
    assert len(p.spans) == 1


def test_gaps_are_not_beyond():
    fps = 5.0
    t, v = _series(fps, [(2.0, 5.0, 3.0)])
    v[(t >= 2.6) & (t < 4.4)] = np.nan
    p = persistence(t, v, threshold=2.0, fps=fps)
    assert not p.flagged
    assert abs(p.observed_s - 8.2) < 1e-6
