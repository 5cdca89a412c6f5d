"""The risk signal: deviations from healthy ranges scored by a rule or a logistic model,
with levels set by the healthy population's own scores."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facesym_pipeline.lib.classify.risk import (
    DEFAULT_RISK_MODEL,
    RISK_MEASURES,
    RiskModel,
    dev_columns,
    fit_risk_models,
    level_thresholds,
    risk_signal,
)
from facesym_pipeline.lib.measure.registry import measure

ORDER = {"low": 0, "elevated": 1, "high": 2}
MOUTH = "mouth_corner_height_diff_mm"


def _signal(values: dict, limits: dict | None = None, model=DEFAULT_RISK_MODEL) -> dict:
    """The signal of raw values judged against `limits` (registry defaults if None)."""
    devs = {}
    for name, value in values.items():
        limit = (limits or {}).get(name, measure(name).default_limit)
        devs[f"{name}_dev"] = abs(value) / limit
    return risk_signal(values, devs, model)


def test_symmetric_face_is_low_and_says_so():
    r = _signal({MOUTH: 0.2, "eye_opening_diff_mm": -0.3})
    assert r["level"] == "low" and r["model"] == "rule"
    assert r["reasons"] == ["all measures within their healthy ranges"]
    assert r["calibration"].startswith("uncalibrated")


def test_reason_in_words_with_side_and_the_limit_it_was_judged_against():
    r = _signal({MOUTH: -3.2, "brow_height_diff_mm": 0.4}, limits={MOUTH: 2.9})
    assert r["level"] == "elevated"  # 3.2 / 2.9 = 1.1 deviations: past the limit, below 2x
    assert r["reasons"] == [
        "mouth-corner height difference 3.2 mm (left corner lower), beyond the healthy range "
        "of 2.9 mm"
    ]
    assert "right eye narrower" in _signal({"eye_opening_diff_mm": 1.8})["reasons"][0]


@pytest.mark.parametrize("name", RISK_MEASURES)
def test_default_levels_sit_at_the_registry_limit_and_twice_it(name):
    limit = measure(name).default_limit
    for sign in (1, -1):
        assert _signal({name: sign * 0.99 * limit})["level"] == "low"
        assert _signal({name: sign * 1.01 * limit})["level"] == "elevated"
        assert _signal({name: sign * 2.01 * limit})["level"] == "high"


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 20), st.floats(0, 20), st.floats(0, 5))
def test_score_never_falls_when_a_deviation_grows(mouth, delta, eye):
    for model in (DEFAULT_RISK_MODEL, _logistic()):
        a = model.scores(np.array([[mouth, np.nan, eye, np.nan, np.nan, np.nan]]))[0]
        b = model.scores(np.array([[mouth + delta, np.nan, eye, np.nan, np.nan, np.nan]]))[0]
        assert b >= a - 1e-12
        assert ORDER[model.level(b)] >= ORDER[model.level(a)]


def _logistic() -> RiskModel:
    models, _ = _fitted()
    return models["logistic"]


def _fitted():
    """Both scorers fitted on 60 people: originals with healthy-sized deviations and a
    variant whose mouth deviation is raised by an injected droop."""
    rng = np.random.default_rng(0)
    n = 60
    healthy = rng.gamma(2.0, 0.25, size=(n, len(RISK_MEASURES)))
    droop = healthy.copy()
    droop[:, 0] += rng.uniform(1.0, 2.5, n)
    devs = np.vstack([healthy, droop])
    y = np.r_[np.zeros(n), np.ones(n)].astype(int)
    subjects = np.r_[np.arange(n), np.arange(n)].astype(str)
    return fit_risk_models(devs, y, subjects, seed=0)


def test_levels_come_from_the_healthy_scores():
    models, scores = _fitted()
    for method, model in models.items():
        healthy = scores.filter((scores["method"] == method) & (scores["label"] == 0))
        elevated_at, high_at = level_thresholds(healthy["score"].to_numpy())
        assert (model.elevated_at, model.high_at) == (elevated_at, high_at)
        share_high = float((healthy["score"].to_numpy() >= high_at).mean())
        assert share_high <= 0.05  # by construction about 2.5 %
    assert models["logistic"].coef[0] > 0  # the mouth deviation raises the score


def test_stored_model_round_trips_as_plain_numbers():
    model = _logistic()
    again = RiskModel.from_table(model.to_table())
    devs = np.array([[1.5, 0.2, 0.3, np.nan, 0.4, 0.1]])
    assert again.scores(devs)[0] == pytest.approx(model.scores(devs)[0])
    assert again == model
    assert dev_columns()[0] == f"{MOUTH}_dev"
