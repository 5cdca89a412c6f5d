"""Theil-Sen slope, CUSUM alarm, onset dating and trend labels on noisy ramps and steps."""

import numpy as np

from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.series import rolling_median
from facesym_pipeline.lib.temporal.trend import (
    broken_stick_onset,
    cusum_alarm,
    measure_trend,
    theil_sen,
)


def _ramp(fps, onset, rate, cap, sign=-1.0, seed=0, sd=0.4, base=0.2):
    rng = np.random.default_rng(seed)
    t = np.arange(int(10 * fps)) / fps
    v = base + sign * np.clip((t - onset) * rate, 0, cap) + rng.normal(0, sd, t.size)
    return t, rolling_median(v, fps, 0.8)


def test_theil_sen_interval_covers_true_slope_and_resists_outliers():
    rng = np.random.default_rng(1)
    t = np.arange(50) / 5.0
    y = 0.6 * t + rng.normal(0, 0.4, t.size)
    y[[5, 17, 33]] += 8.0
    s = theil_sen(t, y, 0.90)
    assert s.lo <= 0.6 <= s.hi
    assert abs(s.slope - 0.6) < 0.1
    assert theil_sen(t[:2], y[:2]) is None


def test_cusum_alarm_is_rate_independent():
    alarms = []
    for fps in (5.0, 10.0):
        t = np.arange(int(10 * fps)) / fps
        v = np.where(t >= 4.0, -2.0, 0.0)
        ch = cusum_alarm(t, v, 0.0, -1, allowance=0.5, alarm=1.0, fps=fps)
        alarms.append(ch.alarm_s)
        assert ch.onset_s == 4.0 and ch.direction == -1
    assert abs(alarms[0] - alarms[1]) <= 0.2
    t = np.arange(50) / 5.0
    assert cusum_alarm(t, np.zeros(50), 0.0, 1, 0.5, 1.0, 5.0) is None


def test_broken_stick_dates_ramp_start():
    t = np.arange(100) / 10.0
    y = np.clip((t - 3.0) * 0.8, 0, None)
    assert abs(broken_stick_onset(t, y, 0.0, 9.0) - 3.0) < 0.11


def test_growing_droop_is_worsening_with_onset():
    cfg = TemporalConfig()
    for fps in (5.0, 10.0):
        for seed in range(5):
            t, v = _ramp(fps, onset=4.0, rate=0.6, cap=5.0, seed=seed)
            tr = measure_trend(t, v, fps, cfg)
            assert tr.label == "worsening"
            assert abs(tr.onset_s - 4.0) <= 1.0
            assert tr.sign == -1
            assert tr.slope_lo > 0 and abs(tr.slope - 0.6) < 0.25


def test_constant_offset_is_stable_and_recovery_is_improving():
    t, v = _ramp(5.0, onset=0.0, rate=0.0, cap=0.0, base=-4.0)
    assert measure_trend(t, v, 5.0).label == "stable"
    rng = np.random.default_rng(3)
    t = np.arange(50) / 5.0
    v = rolling_median(-4.0 + np.clip((t - 4.0) * 0.8, 0, 3.5) + rng.normal(0, 0.4, 50), 5.0, 0.8)
    tr = measure_trend(t, v, 5.0)
    assert tr.label == "improving" and abs(tr.onset_s - 4.0) <= 1.0


def test_transient_excursion_is_not_a_trend():
    # an uncorrected 2 s lopsided smile: a sustained change would have to last to the end
    t = np.arange(50) / 5.0
    v = np.where((t >= 4.0) & (t < 6.0), 3.0, 0.2)
    assert measure_trend(t, v, 5.0).label == "stable"


def test_too_little_data_is_insufficient():
    t = np.arange(50) / 5.0
    v = np.full(50, np.nan)
    v[:10] = 0.3
    assert measure_trend(t, v, 5.0).label == "insufficient_data"


def test_droop_opposite_to_a_natural_tilt_is_worsening_not_improving():
    # +1.4 mm natural offset; a left droop from 3.5 s pulls it through zero to about -0.5.
    t, v = _ramp(5.0, onset=3.5, rate=0.6, cap=1.9, base=1.4, sd=0.25)
    tr = measure_trend(t, v, 5.0)
    assert tr.label == "worsening"
    assert abs(tr.onset_s - 3.5) <= 1.0
    assert tr.slope_lo > 0  # away from the face's own start, whichever side it crosses to


def test_return_towards_symmetry_on_the_same_side_is_improving():
    t, v = _ramp(5.0, onset=3.0, rate=0.6, cap=2.5, base=3.5, sd=0.25)
    assert measure_trend(t, v, 5.0).label == "improving"
