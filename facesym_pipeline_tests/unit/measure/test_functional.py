"""Blendshape asymmetry, its activation gate, and the region scores."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib.face.landmarker import BLENDSHAPE_NAMES
from facesym_pipeline.lib.measure.functional import (
    ACTIVATION_GATE,
    ASYM_COLUMNS,
    COLUMNS,
    PAIRED_BLENDSHAPES,
    functional_features,
)
from facesym_pipeline.lib.measure.symmetry import symmetry_features
from facesym_pipeline_tests.helpers import video


def _shapes(**scores: float) -> np.ndarray:
    out = np.zeros((1, len(BLENDSHAPE_NAMES)))
    for name, value in scores.items():
        out[0, BLENDSHAPE_NAMES.index(name)] = value
    return out


def test_every_left_right_pair_has_a_column():
    expected = {n[:-4] for n in BLENDSHAPE_NAMES if n.endswith("Left")}
    assert set(PAIRED_BLENDSHAPES) == expected
    for stem in ("mouthSmile", "mouthFrown", "eyeBlink", "eyeSquint", "eyeWide", "browDown",
                 "browOuterUp", "cheekSquint", "noseSneer", "mouthStretch", "mouthPress",
                 "mouthUpperUp", "mouthLowerDown", "mouthDimple"):  # fmt: skip
        assert f"bs_{stem}_asym" in ASYM_COLUMNS
    assert tuple(functional_features(_shapes()).columns) == COLUMNS


def test_gate_sign_and_range():
    rest = functional_features(_shapes(mouthSmileLeft=0.05, mouthSmileRight=0.02))
    assert rest["bs_mouthSmile_asym"][0] is None  # both sides at rest
    at_gate = functional_features(_shapes(mouthSmileLeft=ACTIVATION_GATE, mouthSmileRight=0.0))
    assert at_gate["bs_mouthSmile_asym"][0] == pytest.approx(1.0, abs=1e-4)
    weak_left = functional_features(_shapes(mouthSmileLeft=0.2, mouthSmileRight=0.6))
    assert weak_left["bs_mouthSmile_asym"][0] == pytest.approx(-0.5, abs=1e-4)
    even = functional_features(_shapes(eyeBlinkLeft=0.7, eyeBlinkRight=0.7))
    assert even["bs_eyeBlink_asym"][0] == pytest.approx(0.0, abs=1e-9)


def test_forehead_sparing_pattern():
    central = functional_features(
        _shapes(mouthSmileLeft=0.1, mouthSmileRight=0.8, browOuterUpLeft=0.5, browOuterUpRight=0.5)
    ).row(0, named=True)
    peripheral = functional_features(
        _shapes(mouthSmileLeft=0.1, mouthSmileRight=0.8, browOuterUpLeft=0.05, browOuterUpRight=0.6)
    ).row(0, named=True)
    healthy = functional_features(
        _shapes(mouthSmileLeft=0.8, mouthSmileRight=0.8, browOuterUpLeft=0.5, browOuterUpRight=0.5)
    ).row(0, named=True)
    assert central["lower_face_asymmetry"] > 0.7 and central["upper_face_asymmetry"] < 0.05
    assert central["forehead_sparing_index"] > 0.7
    assert peripheral["upper_face_asymmetry"] > 0.7
    assert peripheral["forehead_sparing_index"] < 0.3
    assert healthy["forehead_sparing_index"] < 0.05
    resting_brows = functional_features(_shapes(mouthSmileLeft=0.1, mouthSmileRight=0.8))
    assert resting_brows["forehead_sparing_index"][0] is None  # upper face unknown


def test_geometry_enters_the_region_scores():
    shapes = _shapes()  # no movement at all: blendshape terms are unknown
    symmetry = pl.DataFrame(
        {
            "mouth_corner_height_diff_mm": [-6.0],
            "upper_lip_midline_offset_mm": [0.0],
            "lower_lip_midline_offset_mm": [0.0],
            "brow_height_diff_mm": [0.5],
        }
    )
    row = functional_features(shapes, symmetry).row(0, named=True)
    assert row["lower_face_asymmetry"] == pytest.approx(1.0)  # twice the 3 mm limit
    assert row["upper_face_asymmetry"] == pytest.approx(0.0)
    assert row["forehead_sparing_index"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        functional_features(np.zeros((2, 52)), symmetry)


def test_real_smile_video_is_gated_at_rest_and_fairly_symmetric_when_smiling():
    clip = video("single_face.mp4")
    symmetry = symmetry_features(clip["landmarks"], clip["width"], clip["height"])
    out = functional_features(clip["blendshapes"], symmetry)
    assert out.height == len(clip["landmarks"])
    smile = out["bs_mouthSmile_asym"].to_numpy()
    left = clip["blendshapes"][:, BLENDSHAPE_NAMES.index("mouthSmileLeft")]
    right = clip["blendshapes"][:, BLENDSHAPE_NAMES.index("mouthSmileRight")]
    at_rest = np.maximum(left, right) < ACTIVATION_GATE
    assert at_rest.any() and (~at_rest).any()  # the clip goes from neutral to a smile
    assert np.isnan(smile[at_rest]).all()
    smiling = np.maximum(left, right) > 0.5
    assert smiling.any() and np.all(np.abs(smile[smiling]) < 0.3)  # a healthy, even smile
    scores = out.select(["lower_face_asymmetry", "upper_face_asymmetry"]).to_numpy()
    finite = scores[np.isfinite(scores)]
    assert finite.size and np.all((finite >= 0) & (finite <= 1))
    assert out["forehead_sparing_index"].drop_nulls().max() < 0.3
