"""The demo image and video generators: layout, ground truth, determinism, decodability."""

from __future__ import annotations

import cv2
import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib import demo_data, demo_video, warp
from facesym_pipeline.lib.demo_data import FaceNotFoundError, Variant, build_demo_images
from facesym_pipeline.lib.demo_video import DroopSchedule, build_demo_videos
from facesym_pipeline.lib.landmarker import create_landmarker
from facesym_pipeline.lib.media import iter_video_frames, load_image_rgb
from facesym_pipeline.lib.model_file import resolve_model
from facesym_pipeline.lib.samples import sample_path

SUBSET = ("0-f15-hao-ph.jpg", "obama2.jpg")


@pytest.fixture(scope="module")
def landmarker():
    with create_landmarker(resolve_model()) as lmk:
        yield lmk


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    first = tmp_path_factory.mktemp("demo_a")
    second = tmp_path_factory.mktemp("demo_b")
    return (
        first,
        build_demo_images(first, seed=11, sources=SUBSET),
        second,
        build_demo_images(second, seed=11, sources=SUBSET),
    )


def _corner_gap_mm(landmarker, rgb: np.ndarray) -> float:
    """Subject-left minus subject-right mouth-corner height along the face's down axis."""
    pts = demo_data.detect_landmarks_px(landmarker, rgb, "test image")
    _, down = warp.face_axes(pts)
    return float(np.dot(pts[291] - pts[61], down)) * warp.mm_per_px_from_landmarks(pts)


def test_layout_and_labels(two_builds):
    root, labels, _, _ = two_builds
    assert labels.columns == list(demo_data.LABEL_COLUMNS)
    assert labels.height == len(SUBSET) * len(demo_data.default_variants())
    on_disk = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.jpg"))
    assert on_disk == sorted(labels["file"].to_list())
    injected = (labels["droop_mm"] > 0) | (labels["ptosis_mm"] > 0)
    assert (labels["label"] == injected.cast(pl.Int8)).all()
    stroke_folder = labels["file"].str.starts_with("stroke_data/")
    assert (stroke_folder == (labels["label"] == 1)).all()
    assert (labels.filter(pl.col("label") == 0)["side"] == "none").all()
    assert set(labels.filter(pl.col("label") == 1)["side"]) == {"left", "right"}
    assert set(labels["subject_id"]) == {"f15-hao", "obama"}
    assert not labels["confound"].any()
    reread = pl.read_csv(root / "labels.csv")
    assert reread["file"].to_list() == labels["file"].to_list()
    # Both classes draw their nuisances from the same mix, so the asymmetric class is not
    # uniformly "clean".
    assert labels.filter(pl.col("label") == 1)["nuisance"].n_unique() > 2


def test_same_seed_gives_identical_bytes(two_builds):
    first, labels_a, second, labels_b = two_builds
    assert (first / "labels.csv").read_bytes() == (second / "labels.csv").read_bytes()
    assert labels_a.equals(labels_b)
    for rel in labels_a["file"].to_list():
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_rerun_keeps_files_and_removes_stale_ones(two_builds):
    root, labels, _, _ = two_builds
    stale = root / "stroke_data" / "left_over.jpg"
    stale.write_bytes(b"not from this run")
    kept = root / labels["file"][0]
    mtime = kept.stat().st_mtime_ns
    again = build_demo_images(root, seed=11, sources=SUBSET)
    assert again.equals(labels)
    assert not stale.exists()
    assert kept.stat().st_mtime_ns == mtime


def test_injected_droop_is_visible_in_the_written_jpeg(two_builds, landmarker):
    root, labels, _, _ = two_builds
    face = labels.filter(pl.col("source_file") == SUBSET[0])

    def gap(kind: str, side: str, droop_mm: float) -> float:
        row = face.filter(
            (pl.col("kind") == kind) & (pl.col("side") == side) & (pl.col("droop_mm") == droop_mm)
        ).row(0, named=True)
        return _corner_gap_mm(landmarker, load_image_rgb(root / row["file"]))

    original = gap("original", "none", 0.0)
    # Asymmetric images also carry a random nuisance; 5 mm must still come through.
    assert gap("droop", "left", 5.0) - original > 2.5
    assert gap("droop", "right", 5.0) - original < -2.5


def test_confound_darkens_only_the_stroke_class(tmp_path):
    variants = (Variant("original"), Variant("droop", "left", droop_mm=3.5))
    clean = build_demo_images(tmp_path / "clean", sources=SUBSET[:1], variants=variants)
    biased = build_demo_images(
        tmp_path / "biased", sources=SUBSET[:1], variants=variants, confound=True
    )
    assert biased["confound"].to_list() == [False, True]
    assert not clean["confound"].any()

    def brightness(root, rel):
        return float(load_image_rgb(root / rel).mean())

    files = clean["file"].to_list()
    assert (tmp_path / "clean" / files[0]).read_bytes() == (
        tmp_path / "biased" / files[0]
    ).read_bytes()
    assert brightness(tmp_path / "biased", files[1]) < brightness(tmp_path / "clean", files[1]) - 5


def test_unknown_source_and_faceless_image_are_refused(tmp_path, landmarker):
    with pytest.raises(ValueError, match="unknown demo sources"):
        build_demo_images(tmp_path, sources=["no_face.mp4"])
    _, frame = next(iter_video_frames(sample_path("no_face.mp4"), [0]))
    with pytest.raises(FaceNotFoundError, match="no face found"):
        demo_data.detect_landmarks_px(landmarker, frame, "no_face.mp4 frame 0")


def test_droop_schedule_values():
    growing = DroopSchedule("g.mp4", "growing_droop", "left", 3.0, 0.8, 5.0)
    t = np.array([0.0, 2.9, 3.0, 4.0, 5.5, 20.0])
    np.testing.assert_allclose(growing.droop_mm(t), [0, 0, 0, 0.8, 2.0, 5.0])
    constant = DroopSchedule("c.mp4", "constant_droop", "left", 0.0, 0.0, 4.0)
    np.testing.assert_allclose(constant.droop_mm(t), 4.0)
    np.testing.assert_allclose(DroopSchedule("s.mp4", "symmetric").droop_mm(t), 0.0)
    np.testing.assert_array_equal(demo_video.ping_pong_indices(4, 9), [0, 1, 2, 3, 2, 1, 0, 1, 2])


def test_videos_decode_with_the_expected_duration_and_droop(tmp_path, landmarker):
    schedules = (
        DroopSchedule("droop_growing_left.mp4", "growing_droop", "left", 1.0, 2.0, 5.0),
        DroopSchedule("symmetric_control.mp4", "symmetric"),
    )
    labels = build_demo_videos(tmp_path, duration_s=3.0, schedules=schedules)
    assert labels.columns == list(demo_video.LABEL_COLUMNS)
    assert labels.filter(pl.col("kind") == "real")["label"].is_null().all()
    assert labels.filter(pl.col("kind") != "real")["label"].to_list() == [1, 0]
    for name, _ in demo_video.REAL_VIDEOS:
        assert (tmp_path / name).read_bytes() == sample_path(name).read_bytes()
    for schedule in schedules:
        cap = cv2.VideoCapture(str(tmp_path / schedule.file))
        fps = cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        n = demo_video.count_decodable_frames(tmp_path / schedule.file)
        assert n / fps == pytest.approx(3.0, abs=1.5 / fps)
    # Same source frame in both videos: before onset they agree, late on the left corner
    # of the warped one is clearly lower (2 mm/s from 1 s: 3.6 mm at 2.8 s).
    early, late = 15, 84
    gaps = {}
    for schedule in schedules:
        frames = dict(iter_video_frames(tmp_path / schedule.file, [early, late]))
        gaps[schedule.kind] = [_corner_gap_mm(landmarker, frames[i]) for i in (early, late)]
    assert abs(gaps["growing_droop"][0] - gaps["symmetric"][0]) < 0.5
    assert gaps["growing_droop"][1] - gaps["symmetric"][1] > 2.0
