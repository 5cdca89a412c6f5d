"""The frame-quality judge on real stills: every reason that applies, thresholds honoured."""

from __future__ import annotations

import dataclasses

import pytest

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.landmark_table import landmark_rows
from facesym_pipeline.lib.face.landmarker import LandmarkSession, MediaTask
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames, reason_counts

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
    strict = dataclasses.replace(QualityThresholds(), min_face_width_px=5000.0)
    counts = reason_counts(judge_frames(landmarks, strict))
    assert counts["face_too_small"] == len(NAMES)
