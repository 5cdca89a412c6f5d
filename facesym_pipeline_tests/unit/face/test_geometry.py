"""Face frame, scale and head pose on real faces (real MediaPipe landmarks)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facesym_pipeline.lib.face.geometry import face_frame, pixel_points, pose_from_transform
from facesym_pipeline_tests.helpers import similarity_in_pixels, still

FRONTAL_STILLS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "obama.jpg", "astronaut.png")


def frame_of(face: dict, **kwargs):
    return face_frame(face["landmarks"], face["width"], face["height"], **kwargs)


@pytest.mark.parametrize("name", FRONTAL_STILLS)
def test_index_handedness_on_real_photos(name):
    face = still(name)
    px = pixel_points(face["landmarks"], face["width"], face["height"])[0]
    # Non-mirrored photo: the subject's right (468 iris, 61 mouth corner) is on the image left.
    assert px[468, 0] < px[473, 0]
    assert px[61, 0] < px[291, 0]
    assert px[33, 0] < px[263, 0]
    coords = frame_of(face).coords_mm[0]
    assert coords[473, 0] > 0 > coords[468, 0]  # +x towards the subject's left
    assert coords[291, 0] > 0 > coords[61, 0]
    assert coords[10, 1] > 0 > coords[152, 1]  # +y up: forehead above, chin below
    assert abs(coords[133, 0] + coords[362, 0]) < 1e-9  # origin halfway between the canthi


@pytest.mark.parametrize("name", FRONTAL_STILLS)
def test_frontal_stills_have_small_pose_and_plausible_scale(name):
    frame = frame_of(still(name))
    assert abs(frame.yaw_deg[0]) < 5
    assert abs(frame.roll_deg[0]) < 5
    assert abs(pose_from_transform(still(name)["transform"])[0][0]) < 5
    assert 54 < frame.ipd_mm[0] < 72  # adult inter-pupillary distances
    assert 0.2 < frame.mm_per_px[0] < 2.0


def test_turned_stills_read_their_yaw_and_sign():
    turned15 = frame_of(still("15-f13-anc-ph.jpg"))
    turned45 = frame_of(still("45-m7-di-ph.jpg"))
    assert 10 < abs(turned15.yaw_deg[0]) < 20
    assert 35 < abs(turned45.yaw_deg[0]) < 55
    # The transformation matrix under-reads the same turns (about 10 and 34 degrees).
    tf15 = pose_from_transform(still("15-f13-anc-ph.jpg")["transform"])[0][0]
    assert 5 < abs(tf15) < abs(turned15.yaw_deg[0])
    # Sign: yaw < 0 means the face turned towards the image's left (the subject's right),
    # so the nose tip sits left of the middle between the two face-outline extremes.
    for name, frame in (("15-f13-anc-ph.jpg", turned15), ("45-m7-di-ph.jpg", turned45)):
        face = still(name)
        px = pixel_points(face["landmarks"], face["width"], face["height"])[0]
        nose_left_of_centre = px[1, 0] < 0.5 * (px[234, 0] + px[454, 0])
        assert (frame.yaw_deg[0] < 0) == nose_left_of_centre


@settings(max_examples=25, deadline=None)
@given(
    angle=st.floats(-40, 40),
    scale=st.floats(0.3, 3.0),
    shift=st.tuples(st.floats(-200, 200), st.floats(-200, 200)),
)
def test_face_frame_is_invariant_to_image_similarity(angle, scale, shift):
    face = still("obama.jpg")
    base = frame_of(face)
    moved = face_frame(
        similarity_in_pixels(face, angle, scale, shift), face["width"], face["height"]
    )
    np.testing.assert_allclose(moved.coords_mm, base.coords_mm, atol=1e-6)
    np.testing.assert_allclose(moved.ipd_mm, base.ipd_mm, rtol=1e-9)
    np.testing.assert_allclose(moved.yaw_deg, base.yaw_deg, atol=1e-6)
    np.testing.assert_allclose(moved.pitch_deg, base.pitch_deg, atol=1e-6)
    # Image y points down, so a rotation by +angle in pixel coordinates is clockwise on screen.
    np.testing.assert_allclose(moved.roll_deg, base.roll_deg - angle, atol=1e-6)


def test_refined_points_override_landmark_positions():
    face = still("0-f1-su-ph.jpg")
    px = pixel_points(face["landmarks"], face["width"], face["height"])
    target = px[:, 291, :2] + [0.0, 4.0]
    as_dict = pixel_points(face["landmarks"], face["width"], face["height"], {291: target})
    array = np.full(px.shape[:2] + (2,), np.nan)
    array[:, 291] = target
    as_array = pixel_points(face["landmarks"], face["width"], face["height"], array)
    for out in (as_dict, as_array):
        np.testing.assert_allclose(out[:, 291, :2], target)
        np.testing.assert_allclose(out[:, 291, 2], px[:, 291, 2])  # depth kept
        np.testing.assert_allclose(np.delete(out, 291, axis=1), np.delete(px, 291, axis=1))
