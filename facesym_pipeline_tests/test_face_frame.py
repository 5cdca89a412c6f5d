"""Face frame, scale and head pose on real faces (real MediaPipe landmarks)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from facesym_pipeline.lib.face_frame import (
    face_frame,
    pixel_points,
    pose_from_transform,
)
from facesym_pipeline.lib.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.media import iter_video_frames, load_image_rgb
from facesym_pipeline.lib.model_file import resolve_model
from facesym_pipeline.lib.samples import sample_path

FRONTAL_STILLS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "obama.jpg", "astronaut.png")


@cache
def still(name: str) -> dict:
    """Landmarks, blendshapes, transform and frame size of a real still (batched, N=1)."""
    rgb = load_image_rgb(sample_path(name))
    with create_landmarker(resolve_model()) as landmarker:
        result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0)
    assert result.status == "ok", name
    return {
        "landmarks": result.landmarks[None].astype(np.float64),
        "blendshapes": result.blendshapes[None].astype(np.float64),
        "transform": result.transform[None].astype(np.float64),
        "width": np.array([result.frame_width]),
        "height": np.array([result.frame_height]),
    }


@cache
def video(name: str, step: int = 1) -> dict:
    """Every `step`-th frame of a real sample video in which a face was found."""
    import cv2

    path = sample_path(name)
    cap = cv2.VideoCapture(str(path))
    n_frames, fps = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    rows = []
    with create_landmarker(resolve_model(), video=True) as landmarker:
        for index, rgb in iter_video_frames(path, range(0, n_frames, step)):
            if rgb is None:
                continue
            detection = landmarker.detect_for_video(to_mp_image(rgb), round(index / fps * 1000))
            result = frame_result(rgb, detection, index, index / fps)
            if result.status == "ok":
                rows.append(result)
    return {
        "frame_index": np.array([r.frame_index for r in rows]),
        "landmarks": np.stack([r.landmarks for r in rows]).astype(np.float64),
        "blendshapes": np.stack([r.blendshapes for r in rows]).astype(np.float64),
        "transform": np.stack([r.transform for r in rows]).astype(np.float64),
        "width": np.array([r.frame_width for r in rows]),
        "height": np.array([r.frame_height for r in rows]),
    }


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


def _similarity_in_pixels(face: dict, angle_deg: float, scale: float, shift) -> np.ndarray:
    """Landmarks after rotating the pixel landmark set about the optical axis, scaling it
    (depth included, as depth shares x's scale) and translating it in the image."""
    width, height = face["width"][0], face["height"][0]
    px = pixel_points(face["landmarks"], width, height)[0]
    t = np.radians(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = px[:, :2].mean(axis=0)
    xy = (px[:, :2] - centre) @ rot.T * scale + centre + np.asarray(shift)
    z = px[:, 2] * scale
    return np.stack([xy[:, 0] / width, xy[:, 1] / height, z / width], axis=-1)[None]


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
        _similarity_in_pixels(face, angle, scale, shift), face["width"], face["height"]
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
