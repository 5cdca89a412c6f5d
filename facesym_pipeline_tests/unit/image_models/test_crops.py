import cv2
import numpy as np
import pytest

from facesym_pipeline.lib.audit.counterfactual import detect_landmarks
from facesym_pipeline.lib.face.landmarker import create_landmarker
from facesym_pipeline.lib.face.mesh import mirror_landmarks
from facesym_pipeline.lib.image_models.crops import (
    REGIONS,
    aligned_crops,
    crop_names,
    crop_region,
    face_geometry,
    landmarks_to_pixels,
    read_crop,
    region_box,
    write_crops,
)
from facesym_pipeline.lib.media.decode import load_image_rgb


@pytest.fixture(scope="module")
def face(samples, model_path):
    rgb = load_image_rgb(samples["obama.jpg"], max_side=640)
    angle = 20.0
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rolled = cv2.warpAffine(rgb, matrix, (w, h), borderMode=cv2.BORDER_REFLECT_101)
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    with create_landmarker(model_path) as lm:
        return {
            "rgb": rgb,
            "landmarks": detect_landmarks(lm, rgb),
            "rolled": rolled,
            "rolled_landmarks": detect_landmarks(lm, rolled),
            "flipped": flipped,
            "flipped_landmarks": detect_landmarks(lm, flipped),
        }


def _mad(a, b) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean())


def test_crops_have_the_declared_sizes(face):
    crops = aligned_crops(face["rgb"], face["landmarks"])
    assert list(crops) == crop_names()
    for name, crop in crops.items():
        region = REGIONS[name.removesuffix("_mirrored")]
        assert crop.shape == (region.height_px, region.width_px, 3)
        assert crop.dtype == np.uint8


def test_a_rolled_face_gives_upright_crops(face):
    geometry = face_geometry(face["rolled_landmarks"], *face["rolled"].shape[1::-1])
    # the measured roll is the one applied (image y grows downwards: CCW rotation -> negative)
    roll = np.degrees(np.arctan2(geometry.across[1], geometry.across[0]))
    assert roll == pytest.approx(-20.0, abs=2.0)
    upright = crop_region(face["rgb"], face["landmarks"], "full_face")
    from_rolled = crop_region(face["rolled"], face["rolled_landmarks"], "full_face")
    # the same picture as the upright one, far closer than an unaligned (still rolled) copy
    centre = (upright.shape[1] / 2, upright.shape[0] / 2)
    still_rolled = cv2.warpAffine(
        upright, cv2.getRotationMatrix2D(centre, 20.0, 1.0), upright.shape[1::-1],
        borderMode=cv2.BORDER_REFLECT_101,
    )  # fmt: skip
    assert _mad(from_rolled, upright) < 0.5 * _mad(still_rolled, upright)
    assert _mad(from_rolled, upright) < 12.0


def test_mirrored_crop_of_mirrored_image_equals_the_crop(face):
    rgb, lm = face["rgb"], face["landmarks"]
    flipped = face["flipped"]
    # exact mirror of the landmarks: x -> 1 - x and every point renamed to its partner
    flipped_lm = mirror_landmarks(lm.copy())
    flipped_lm[:, 0] = 1.0 - flipped_lm[:, 0]
    for name in ("eye_left", "eye_right", "nose", "mouth", "eyes"):
        crop = crop_region(rgb, lm, name)
        again = crop_region(flipped, flipped_lm, name, mirrored=True)
        assert _mad(crop, again) < 1.0, name
        # with landmarks detected on the mirrored image by MediaPipe itself
        detected = crop_region(flipped, face["flipped_landmarks"], name, mirrored=True)
        assert _mad(crop, detected) < 8.0, name
    # on the left eye: the mirrored crop is the right eye flipped
    right = crop_region(rgb, lm, "eye_right")
    assert np.array_equal(crop_region(rgb, lm, "eye_left", mirrored=True), right[:, ::-1])


def test_mouth_window_is_centred_on_the_mouth(face):
    # shift the mouth sideways relative to the eyes (as a slight yaw does): the window follows
    rgb, lm = face["rgb"], face["landmarks"].copy()
    h, w = rgb.shape[:2]
    geometry = face_geometry(lm, w, h)
    px = landmarks_to_pixels(lm, w, h)
    mouth = REGIONS["mouth"]
    cx, *_ = region_box(mouth, geometry, px)
    assert cx == pytest.approx(geometry.to_canvas(px[list(mouth.anchors)])[:, 0].mean())
    moved = px.copy()
    moved[list(mouth.anchors)] += 0.1 * geometry.ipd_px * geometry.across
    cx_moved, *_ = region_box(mouth, geometry, moved)
    assert cx_moved - cx == pytest.approx(0.1)
    # the eye windows stay on the iris centres
    assert region_box(REGIONS["eye_left"], geometry, moved)[0] == REGIONS["eye_left"].cx


def test_write_crops_index(face, tmp_path):
    frames = [("m1", 0, face["rgb"], face["landmarks"]), ("m2", 3, face["rgb"], None)]
    index = write_crops(frames, tmp_path, regions=("full_face", "mouth"), paired=("mouth",))
    assert index.columns == ["media_id", "frame_index", "region", "path", "width", "height"]
    assert index["region"].to_list() == ["full_face", "mouth", "mouth_mirrored"]
    assert set(index["media_id"]) == {"m1"}  # no landmarks -> no crops
    for row in index.iter_rows(named=True):
        crop = read_crop(tmp_path / row["path"])
        assert crop.shape == (row["height"], row["width"], 3)
    assert np.array_equal(
        read_crop(tmp_path / index["path"][1]), crop_region(face["rgb"], face["landmarks"], "mouth")
    )


def test_tiny_faces_are_refused(face):
    lm = face["landmarks"].copy()
    lm[:, :2] = 0.5 + (lm[:, :2] - 0.5) * 0.001
    with pytest.raises(ValueError, match="too small"):
        crop_region(face["rgb"], lm, "mouth")
