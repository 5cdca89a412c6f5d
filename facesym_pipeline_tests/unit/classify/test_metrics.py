import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import balanced_accuracy_score, brier_score_loss, roc_auc_score, roc_curve

from facesym_pipeline.lib.classify.metrics import (
    METRICS,
    balanced_accuracy,
    bootstrap_ci,
    brier,
    roc_auc,
    sensitivity_at_specificity,
)


def _scores(seed=0, n=80, sep=1.0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    y[:2] = [0, 1]
    z = rng.normal(size=n) + sep * y
    p = 1 / (1 + np.exp(-z))
    if ties:
        p = np.round(p, 1)
    return y, p


def _sklearn_sens_at_spec(y, p, spec):
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    return tpr[fpr <= 1 - spec + 1e-12].max()


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_sklearn(seed, ties):
    y, p = _scores(seed, ties=ties)
    assert roc_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    for t in (0.3, 0.5, 0.7):
        assert balanced_accuracy(y, p, t) == pytest.approx(
            balanced_accuracy_score(y, (p >= t).astype(int)), abs=1e-12
        )
    for spec in (0.8, 0.9, 0.95):
        assert sensitivity_at_specificity(y, p, spec) == pytest.approx(
            _sklearn_sens_at_spec(y, p, spec), abs=1e-12
        )


def test_known_values_by_hand():
    y = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1]
    p = [0.1, 0.2, 0.2, 0.3, 0.3, 0.4, 0.4, 0.5, 0.6, 0.9, 0.55, 0.7, 0.8, 0.95]
    # 90% specificity of 10 negatives allows one false positive (0.9). Threshold 0.7 has just
    # that one and catches 0.7, 0.8, 0.95; threshold 0.6 would add a second false positive.
    assert sensitivity_at_specificity(y, p, 0.9) == pytest.approx(3 / 4)
    assert sensitivity_at_specificity(y, p, 1.0) == pytest.approx(1 / 4)
    assert roc_auc([0, 1], [0.2, 0.8]) == 1.0
    assert roc_auc([0, 1], [0.8, 0.2]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]) == 0.5
    assert brier([0, 1], [0.0, 1.0]) == 0.0
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=0, max_value=10_000), st.sampled_from(sorted(METRICS)))
def test_ci_contains_point_estimate(seed, metric):
    y, p = _scores(seed, n=120)
    ci = bootstrap_ci(y, p, metric, n_boot=300, seed=seed)
    assert ci.lo <= ci.value <= ci.hi
    assert ci.value == pytest.approx(METRICS[metric](y, p))


def test_bootstrap_is_deterministic_and_group_resampling_is_wider():
    # 10 subjects x 12 near-identical rows: resampling rows treats 120 rows as independent
    rng = np.random.default_rng(3)
    subj_y = np.array([0, 1] * 5)
    subj_p = np.clip(0.5 + 0.25 * (subj_y - 0.5) + rng.normal(0, 0.2, 10), 0.01, 0.99)
    y = np.repeat(subj_y, 12)
    p = np.repeat(subj_p, 12) + rng.normal(0, 0.005, 120)
    groups = np.repeat(np.arange(10), 12)
    a = bootstrap_ci(y, p, "roc_auc", n_boot=500, seed=7, groups=groups)
    b = bootstrap_ci(y, p, "roc_auc", n_boot=500, seed=7, groups=groups)
    assert a == b
    rows = bootstrap_ci(y, p, "roc_auc", n_boot=500, seed=7)
    assert (a.hi - a.lo) > 2 * (rows.hi - rows.lo)


def test_degenerate_resamples_are_skipped():
    # two groups, one per class: half the group resamples hold a single class
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    ci = bootstrap_ci(y, p, "roc_auc", n_boot=200, seed=0, groups=[0, 0, 0, 1, 1, 1])
    assert ci == (1.0, 1.0, 1.0)
    # one class only: no usable resample at all
    ci1 = bootstrap_ci([1, 1, 1], [0.2, 0.5, 0.9], "roc_auc", n_boot=50)
    assert np.isnan(ci1.value) and np.isnan(ci1.lo) and np.isnan(ci1.hi)


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        roc_auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError):
        brier([0, 1], [0.1])
    with pytest.raises(KeyError):
        bootstrap_ci([0, 1], [0.1, 0.9], "accuracy_of_vibes")
