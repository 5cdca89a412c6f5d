import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facesym_pipeline.lib.classify.model_selection import candidate_models, fit_small
from facesym_pipeline.lib.classify.risk import (
    DEFAULT_MEASURES,
    LEVELS,
    healthy_ranges_from_data,
    measure_score,
    risk_signal,
)

ORDER = {"low": 0, "elevated": 1, "high": 2}


def test_symmetric_face_is_low_and_says_so():
    r = risk_signal({"mouth_corner_height_diff_mm": 0.2, "eye_opening_diff_mm": -0.3})
    assert r["level"] == "low" and r["model"] == "rule-based"
    assert 0 <= r["score"] < LEVELS[0]
    assert r["reasons"] == ["all measures within their healthy ranges"]


def test_reason_in_words_with_side():
    r = risk_signal({"mouth_corner_height_diff_mm": -3.2, "brow_height_diff_mm": 0.4})
    assert r["level"] == "high"
    assert r["reasons"] == [
        "mouth-corner height difference 3.2 mm (left lower), beyond the healthy range of 1.5 mm"
    ]
    r2 = risk_signal({"eye_opening_diff_mm": 1.8})
    assert r2["level"] == "elevated"
    assert "right eye narrower" in r2["reasons"][0]


@pytest.mark.parametrize("name", sorted(DEFAULT_MEASURES))
def test_levels_monotonic_in_each_measure(name):
    limit = DEFAULT_MEASURES[name].limit
    values = np.linspace(0, 5 * limit, 101)
    for sign in (1, -1):
        out = [risk_signal({name: sign * v}) for v in values]
        scores = [o["score"] for o in out]
        levels = [ORDER[o["level"]] for o in out]
        assert all(np.diff(scores) >= 0)
        assert all(np.diff(levels) >= 0)
        assert levels[0] == 0 and levels[-1] == 2
        # the boundaries sit at the limit and at twice the limit
        assert risk_signal({name: sign * 0.99 * limit})["level"] == "low"
        assert risk_signal({name: sign * 1.01 * limit})["level"] == "elevated"
        assert risk_signal({name: sign * 2.01 * limit})["level"] == "high"


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=-20, max_value=20, allow_nan=False),
    st.floats(min_value=-20, max_value=20, allow_nan=False),
    st.floats(min_value=-5, max_value=5, allow_nan=False),
)
def test_score_bounded_and_never_falls_when_a_measure_grows(mouth, delta, eye):
    base = {"mouth_corner_height_diff_mm": mouth, "eye_opening_diff_mm": eye}
    grown = dict(base, mouth_corner_height_diff_mm=np.sign(mouth or 1) * (abs(mouth) + abs(delta)))
    a, b = risk_signal(base), risk_signal(grown)
    assert 0 <= a["score"] <= 1 and 0 <= b["score"] <= 1
    assert b["score"] >= a["score"]
    assert ORDER[b["level"]] >= ORDER[a["level"]]
    assert measure_score(mouth, 1.5) == measure_score(-mouth, 1.5)


def test_learned_ranges_override_defaults():
    rng = np.random.default_rng(0)
    healthy = pl.DataFrame(
        {
            "mouth_corner_height_diff_mm": rng.normal(0, 0.5, 200),
            "eye_opening_diff_mm": [None] * 200,
        }
    )
    ranges = healthy_ranges_from_data(healthy)
    assert set(ranges) == {"mouth_corner_height_diff_mm"}
    assert 0.7 < ranges["mouth_corner_height_diff_mm"] < 1.3  # 95% of |N(0, 0.5)| ~ 0.98
    face = {"mouth_corner_height_diff_mm": -1.3}
    assert risk_signal(face)["level"] == "low"  # default limit 1.5
    learned = risk_signal(face, healthy_ranges=ranges)
    assert learned["level"] == "elevated"
    assert (
        f"healthy range of {ranges['mouth_corner_height_diff_mm']:.2f} mm" in learned["reasons"][0]
    )
    with pytest.raises(ValueError):
        risk_signal(face, healthy_ranges={"mouth_corner_height_diff_mm": 0.0})


def test_video_summary_names_are_understood():
    r = risk_signal({"mouth_corner_height_diff_mm_median": -2.4})
    assert r["level"] == "elevated" and "left lower" in r["reasons"][0]


def test_with_a_model_the_score_is_its_probability():
    rng = np.random.default_rng(1)
    cols = ["mouth_corner_height_diff_mm", "eye_opening_diff_mm"]
    X = rng.normal(size=(200, 2)) * [1.5, 0.8]
    y = (X[:, 0] < -0.8).astype(int)  # left-corner droop is the positive class
    model = fit_small(candidate_models()["logreg"], X, y)
    droop = {"mouth_corner_height_diff_mm": -3.0, "eye_opening_diff_mm": 0.1}
    r = risk_signal(droop, model=model, feature_cols=cols, model_id="abc123def456")
    expected = model.predict_proba(np.array([[-3.0, 0.1]]))[0, 1]
    assert r["score"] == pytest.approx(expected, abs=1e-4)
    assert r["model"] == "abc123def456" and r["level"] == "high"
    assert r["reasons"][0].startswith("classifier probability")
    assert any("left lower" in s for s in r["reasons"][1:])
    # a missing feature is passed as NaN and reported
    partial = risk_signal({"mouth_corner_height_diff_mm": 2.5}, model=model, feature_cols=cols)
    assert "1 of 2 features missing" in partial["reasons"][0]
    assert partial["level"] == "low"
    with pytest.raises(ValueError):
        risk_signal(droop, model=model)
