"""The frame-quality judge on real stills: every reason that applies, thresholds honoured,
resolution and blur judged on the face in mm, background faces ignored by size."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import polars as pl
import pytest

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.landmark_table import landmark_rows
from facesym_pipeline.lib.face.landmarker import LandmarkSession, MediaTask
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames, reason_counts
from facesym_pipeline.lib.media.decode import load_image_rgb

NAMES = ("0-f1-su-ph.jpg", "15-f13-anc-ph.jpg", "45-m7-di-ph.jpg", "multi_face.jpg")


@pytest.fixture(scope="module")
def landmarks(samples, model_path):
    tasks = [MediaTask(n, str(sample_path(n)), "image", [(0, 0.0)]) for n in NAMES]
    with LandmarkSession(model_path) as session:
        results = session.analyse(tasks)
    return landmark_rows("q", results, {n: [(0, 0.0)] for n in NAMES})


def _by_name(quality):
    return {r["media_id"]: r for r in quality.iter_rows(named=True)}


def test_default_judge(landmarks):
    quality = _by_name(judge_frames(landmarks, QualityThresholds()))
    assert quality["0-f1-su-ph.jpg"]["passed"]
    assert quality["15-f13-anc-ph.jpg"]["passed"]
    assert quality["45-m7-di-ph.jpg"]["reasons"] == ["pose_beyond_limits"]
    assert quality["45-m7-di-ph.jpg"]["yaw_deg"] < -30  # turned to the subject's right
    assert any(r.startswith("multiple_faces") for r in quality["multi_face.jpg"]["reasons"])


def test_thresholds_are_honoured(landmarks):
    lenient = dataclasses.replace(QualityThresholds(), max_abs_yaw_deg=60.0)
    assert _by_name(judge_frames(landmarks, lenient))["45-m7-di-ph.jpg"]["passed"]
    strict = dataclasses.replace(QualityThresholds(), max_mm_per_px=0.01)
    counts = reason_counts(judge_frames(landmarks, strict))
    assert counts["face_too_small"] == len(NAMES)
    strict = dataclasses.replace(QualityThresholds(), max_blur_mm=0.01)
    assert reason_counts(judge_frames(landmarks, strict))["blurry"] == len(NAMES)


def test_a_background_face_counts_only_when_it_is_large(landmarks):
    """multi_face.jpg's second face is 0.8x the main one; the same rows with a small
    background face (0.4x, as in real portraits with a passer-by) pass."""
    multi = landmarks.filter(pl.col("media_id") == "multi_face.jpg")
    assert multi["second_face_ratio"][0] >= 0.6
    small = multi.with_columns(second_face_ratio=pl.lit(0.4, pl.Float32))
    assert not any(
        r.startswith("multiple_faces")
        for r in judge_frames(small, QualityThresholds())["reasons"][0]
    )
    lenient = dataclasses.replace(QualityThresholds(), min_second_face_ratio=0.9)
    assert not any(
        r.startswith("multiple_faces") for r in judge_frames(multi, lenient)["reasons"][0]
    )


def _judge_images(images: dict[str, np.ndarray], tmp_path) -> dict[str, dict]:
    tasks = []
    for name, rgb in images.items():
        path = tmp_path / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        tasks.append(MediaTask(name, str(path), "image", [(0, 0.0)]))
    with LandmarkSession(resolve_model(), hands=False) as session:
        results = session.analyse(tasks)
    table = landmark_rows("q", results, {name: [(0, 0.0)] for name in images})
    return {
        r["media_id"]: r for r in judge_frames(table, QualityThresholds()).iter_rows(named=True)
    }


def _resized(rgb: np.ndarray, factor: float) -> np.ndarray:
    size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def test_blur_limit_is_in_mm_on_the_face_whatever_its_size(samples, tmp_path):
    """The same blur on the face (in mm) reads the same on a 235-px and a 118-px face and
    is judged the same; unblurred copies pass at both sizes."""
    rgb = load_image_rgb(sample_path("obama.jpg"))
    mm_per_px = _judge_images({"full": rgb}, tmp_path)["full"]["mm_per_px"]
    half = _resized(rgb, 0.5)
    images = {"full": rgb, "half": half}
    for blur_mm in (0.5, 2.0):
        images[f"full_{blur_mm}"] = cv2.GaussianBlur(rgb, (0, 0), blur_mm / mm_per_px)
        images[f"half_{blur_mm}"] = cv2.GaussianBlur(half, (0, 0), blur_mm / (2 * mm_per_px))
    judged = _judge_images(images, tmp_path)
    for name in ("full", "half", "full_0.5", "half_0.5"):
        assert judged[name]["passed"], (name, judged[name])
    for name in ("full_2.0", "half_2.0"):
        assert judged[name]["reasons"] == ["blurry"], (name, judged[name])
    assert judged["half"]["mm_per_px"] == pytest.approx(2 * judged["full"]["mm_per_px"], rel=0.05)
    # one face, two resolutions: the blur estimate in mm agrees within 10 %
    assert judged["half_2.0"]["blur_mm"] == pytest.approx(judged["full_2.0"]["blur_mm"], rel=0.1)
    # and it grows with the applied blur
    assert judged["full"]["blur_mm"] < judged["full_0.5"]["blur_mm"] < judged["full_2.0"]["blur_mm"]


def test_a_face_too_coarse_for_mm_is_too_small(samples, tmp_path):
    rgb = load_image_rgb(sample_path("obama.jpg"))
    judged = _judge_images({"tiny": _resized(rgb, 0.3)}, tmp_path)["tiny"]  # ~70-px face
    assert judged["mm_per_px"] > 1.5 and "face_too_small" in judged["reasons"]
