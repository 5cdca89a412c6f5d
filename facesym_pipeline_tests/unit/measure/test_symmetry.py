"""Symmetry measures: geometric properties on faces built from real landmarks, handedness
and yaw behaviour on real photos and video frames."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facesym_pipeline.lib.face.geometry import face_frame
from facesym_pipeline.lib.face.mesh import MIRROR
from facesym_pipeline.lib.measure.symmetry import (
    COLUMNS,
    MM_DIFF_COLUMNS,
    PROCRUSTES_COLUMNS,
    SIGNED_COLUMNS,
    symmetry_features,
)
from facesym_pipeline_tests.helpers import similarity_in_pixels, still, video

SIZE = 1000.0  # synthetic frame, pixels


def features(face: dict, **kwargs) -> pl.DataFrame:
    return symmetry_features(
        face["landmarks"], face["width"], face["height"], face.get("transform"), **kwargs
    )


def _rotation(yaw, pitch, roll) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    return rz @ ry @ rx


def synthetic_face(coords_mm: np.ndarray, yaw=0.0, pitch=0.0, roll=0.0) -> dict:
    """Landmarks of a face given in face-frame mm, posed and projected orthographically
    into a SIZE x SIZE frame at 0.1 mm per pixel."""
    viewer = coords_mm @ _rotation(yaw, pitch, roll).T / 0.1
    x = SIZE / 2 + viewer[:, 0]
    y = SIZE / 2 - viewer[:, 1]
    z = -viewer[:, 2]
    landmarks = np.stack([x / SIZE, y / SIZE, z / SIZE], axis=-1)[None]
    return {"landmarks": landmarks, "width": np.array([SIZE]), "height": np.array([SIZE])}


def symmetric_version(name: str) -> np.ndarray:
    """A real face made perfectly bilaterally symmetric with the mirror pairs."""
    face = still(name)
    coords = face_frame(face["landmarks"], face["width"], face["height"]).coords_mm[0]
    reflected = coords[MIRROR] * np.array([-1.0, 1.0, 1.0])
    return 0.5 * (coords + reflected)


def swap_sides(face: dict) -> dict:
    """The mirror image (x -> 1 - x) with landmarks relabelled through the mirror pairs."""
    landmarks = face["landmarks"][:, MIRROR, :].copy()
    landmarks[..., 0] = 1.0 - landmarks[..., 0]
    return {**face, "landmarks": landmarks, "transform": None}


# --- geometry properties -------------------------------------------------------------------


def test_columns_are_exactly_the_documented_ones():
    frame = features(still("obama.jpg"))
    assert tuple(frame.columns) == COLUMNS
    assert frame.height == 1
    assert all(dtype == pl.Float64 for dtype in frame.dtypes)


@pytest.mark.parametrize("name", ["obama.jpg", "0-f15-hao-ph.jpg"])
@pytest.mark.parametrize("pose", [(0, 0, 0), (12, -6, 8), (-15, 5, -10)])
def test_perfectly_mirrored_face_has_zero_asymmetry(name, pose):
    face = synthetic_face(symmetric_version(name), *pose)
    row = features(face).row(0, named=True)
    for column in SIGNED_COLUMNS + PROCRUSTES_COLUMNS:
        assert abs(row[column]) < 1e-6, column
    assert row["yaw_deg"] == pytest.approx(pose[0], abs=1e-6)


@settings(max_examples=20, deadline=None)
@given(
    angle=st.floats(-30, 30),
    scale=st.floats(0.4, 2.5),
    shift=st.tuples(st.floats(-150, 150), st.floats(-150, 150)),
)
def test_mm_measures_invariant_to_image_rotation_translation_scale(angle, scale, shift):
    face = still("biden.jpg")
    base = features(face).row(0, named=True)
    moved_landmarks = similarity_in_pixels(face, angle, scale, shift)
    moved = features({**face, "landmarks": moved_landmarks}).row(0, named=True)
    for column in COLUMNS:
        if column.endswith(("_mm", "_deg", "_ipd")) or column.startswith("procrustes"):
            if column == "roll_deg":
                continue
            assert moved[column] == pytest.approx(base[column], abs=1e-6), column


@pytest.mark.parametrize("name", ["obama.jpg", "single_face.jpg", "15-f13-anc-ph.jpg"])
def test_swapping_sides_flips_every_signed_measure(name):
    face = still(name)
    base = features(face).row(0, named=True)
    swapped = features(swap_sides(face)).row(0, named=True)
    for column in SIGNED_COLUMNS:
        assert swapped[column] == pytest.approx(-base[column], abs=1e-6), column
    for column in ("yaw_deg", "roll_deg"):
        assert swapped[column] == pytest.approx(-base[column], abs=1e-6), column
    for column in (*PROCRUSTES_COLUMNS, "pitch_deg", "mm_per_px", "ipd_mm"):
        assert swapped[column] == pytest.approx(base[column], rel=1e-6), column
    assert any(abs(base[c]) > 0.1 for c in MM_DIFF_COLUMNS)  # a real face is not symmetric


def test_left_corner_droop_is_negative_and_measured_in_mm():
    face = synthetic_face(symmetric_version("obama.jpg"))
    droop_px = 30.0  # 3 mm at 0.1 mm/px
    drooped = face["landmarks"].copy()
    drooped[0, 291, 1] += droop_px / SIZE  # image y grows downwards
    row = features({**face, "landmarks": drooped}).row(0, named=True)
    mm = droop_px * row["mm_per_px"]
    assert row["mouth_corner_height_diff_mm"] == pytest.approx(-mm, rel=0.03)
    assert row["mouth_tilt_deg"] < 0
    assert row["procrustes_mouth"] > 0.2
    # The same droop given as a refined pixel position instead of a moved landmark.
    refined = {291: drooped[:, 291, :2] * SIZE}
    via_refined = features(face, refined=refined).row(0, named=True)
    assert via_refined["mouth_corner_height_diff_mm"] == pytest.approx(
        row["mouth_corner_height_diff_mm"], abs=1e-9
    )


def test_empty_batch_gives_empty_frame():
    out = symmetry_features(np.zeros((0, 478, 3)), np.zeros(0), np.zeros(0))
    assert out.height == 0 and tuple(out.columns) == COLUMNS


# --- yaw on real faces ----------------------------------------------------------------------

# Main mouth and eye measures that must not move by 1 mm or more between 0 and 15 degrees.
YAW_STABLE = (
    "mouth_corner_height_diff_mm",
    "eye_opening_diff_mm",
    "mrd1_diff_mm",
    "mrd2_diff_mm",
    "eye_level_diff_mm",
    "eye_midline_diff_mm",
    "alar_height_diff_mm",
)


def _yaw_changes(frontalise: bool) -> dict[str, dict[str, float]]:
    """Change of every measure between a frontal and a ~12-15 degree view of one face:
    obama.jpg vs obama2.jpg (same person), and frames of WolfgangLanger_Pexels.mp4 turned
    beyond 10 degrees vs the frontal frame (|yaw| < 3) with the closest blendshapes."""
    pair = [still("obama.jpg"), still("obama2.jpg")]
    stills = features(
        {k: np.concatenate([f[k] for f in pair]) for k in ("landmarks", "width", "height")},
        frontalise=frontalise,
    )
    clip = video("WolfgangLanger_Pexels.mp4", 2)
    frames = features(clip, frontalise=frontalise)
    yaw = features(clip)["yaw_deg"].to_numpy()
    usable = (clip["frame_index"] < 60) | (clip["frame_index"] > 150)  # a hand covers the face
    turned = np.flatnonzero(usable & (yaw < -10))
    frontal = np.flatnonzero(usable & (np.abs(yaw) < 3))
    shapes = clip["blendshapes"]
    nearest = frontal[
        np.linalg.norm(shapes[turned][:, None] - shapes[frontal][None], axis=-1).argmin(axis=1)
    ]
    out = {"stills": {}, "video": {}}
    for column in MM_DIFF_COLUMNS:
        out["stills"][column] = float(stills[column][1] - stills[column][0])
        values = frames[column].to_numpy()
        out["video"][column] = float(np.median(values[turned] - values[nearest]))
    return out


@pytest.fixture(scope="module")
def yaw_changes():
    return {True: _yaw_changes(True), False: _yaw_changes(False)}


def test_pose_of_the_yaw_test_material():
    pair = [features(still("obama.jpg")), features(still("obama2.jpg"))]
    assert abs(pair[0]["yaw_deg"][0]) < 3 and 12 < abs(pair[1]["yaw_deg"][0]) < 17


@pytest.mark.slow
@pytest.mark.parametrize("source", ["stills", "video"])
def test_main_measures_change_less_than_1mm_up_to_15_degrees_of_yaw(yaw_changes, source):
    changes = yaw_changes[True][source]
    for column in YAW_STABLE:
        assert abs(changes[column]) < 1.0, (column, changes[column])


@pytest.mark.slow
@pytest.mark.parametrize("source", ["stills", "video"])
def test_frontalising_beats_the_image_plane_for_midline_offsets(yaw_changes, source):
    for column in ("nose_tip_midline_mm", "upper_lip_midline_offset_mm"):
        frontal, flat = yaw_changes[True][source][column], yaw_changes[False][source][column]
        assert abs(frontal) < 0.5 * abs(flat), (column, frontal, flat)
    assert abs(yaw_changes[True][source]["nose_tip_midline_mm"]) < 1.5
