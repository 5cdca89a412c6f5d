"""Helpers shared by tests: real landmarks of the sample media (computed once per session),
a similarity transform of a landmark set, and a small Kaggle-shaped dataset of real faces."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import numpy as np

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.geometry import pixel_points
from facesym_pipeline.lib.face.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.media.decode import iter_video_frames, load_image_rgb


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


def similarity_in_pixels(face: dict, angle_deg: float, scale: float, shift) -> np.ndarray:
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


def make_small_dataset(root: Path, name: str = "mini") -> Path:
    """A Kaggle-shaped dataset of real faces: stroke_data/, noStroke_data/, one video."""
    folder = root / name
    (folder / "stroke_data").mkdir(parents=True)
    (folder / "noStroke_data").mkdir(parents=True)
    shutil.copy(sample_path("obama.jpg"), folder / "stroke_data" / "obama.jpg")
    shutil.copy(sample_path("biden.jpg"), folder / "noStroke_data" / "biden.jpg")
    shutil.copy(sample_path("single_face.mp4"), folder / "single_face.mp4")
    return folder
