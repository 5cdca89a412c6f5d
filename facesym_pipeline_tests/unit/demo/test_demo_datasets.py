"""The demo image and video generators: layout, ground truth, determinism, decodability."""

from __future__ import annotations

import cv2
import numpy as np
import polars as pl
import pytest

from facesym_pipeline.demo import images, videos, warp
from facesym_pipeline.demo.images import FaceNotFoundError, Variant, build_demo_images
from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.demo.videos import DroopSchedule, build_demo_videos
from facesym_pipeline.lib.face.landmarker import create_landmarker
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.media.decode import iter_video_frames, load_image_rgb

pytestmark = pytest.mark.slow  # builds demo datasets and videos with MediaPipe

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
    pts = images.detect_landmarks_px(landmarker, rgb, "test image")
    _, down = warp.face_axes(pts)
    return float(np.dot(pts[291] - pts[61], down)) * warp.mm_per_px_from_landmarks(pts)


def test_layout_and_labels(two_builds):
    root, labels, _, _ = two_builds
    assert labels.columns == list(images.LABEL_COLUMNS)
    assert labels.height == len(SUBSET) * len(images.default_variants())
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
        images.detect_landmarks_px(landmarker, frame, "no_face.mp4 frame 0")


def test_droop_schedule_values():
    growing = DroopSchedule("g.mp4", "growing_droop", "left", 3.0, 0.8, 5.0)
    t = np.array([0.0, 2.9, 3.0, 4.0, 5.5, 20.0])
    np.testing.assert_allclose(growing.droop_mm(t), [0, 0, 0, 0.8, 2.0, 5.0])
    constant = DroopSchedule("c.mp4", "constant_droop", "left", 0.0, 0.0, 4.0)
    np.testing.assert_allclose(constant.droop_mm(t), 4.0)
    np.testing.assert_allclose(DroopSchedule("s.mp4", "symmetric").droop_mm(t), 0.0)
    np.testing.assert_array_equal(videos.ping_pong_indices(4, 9), [0, 1, 2, 3, 2, 1, 0, 1, 2])


def test_videos_decode_with_the_expected_duration_and_droop(tmp_path, landmarker):
    schedules = (
        DroopSchedule("droop_growing_left.mp4", "growing_droop", "left", 1.0, 2.0, 5.0),
        DroopSchedule("symmetric_control.mp4", "symmetric"),
    )
    labels = build_demo_videos(tmp_path, duration_s=3.0, schedules=schedules, stills=None)
    assert labels.columns == list(videos.LABEL_COLUMNS)
    assert labels.filter(pl.col("kind") == "real")["label"].is_null().all()
    assert labels.filter(pl.col("kind") != "real")["label"].to_list() == [1, 0]
    for name, _ in videos.REAL_VIDEOS:
        assert (tmp_path / name).read_bytes() == sample_path(name).read_bytes()
    for schedule in schedules:
        cap = cv2.VideoCapture(str(tmp_path / schedule.file))
        fps = cap.get(cv2.CAP_PROP_FPS)
        cap.release()
        n = videos.count_decodable_frames(tmp_path / schedule.file)
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


STILL_SUBSET = ("0-f15-hao-ph.jpg", "biden.jpg")


@pytest.fixture(scope="module")
def still_builds(tmp_path_factory):
    """The still clips of two people, 5 s long, built twice with one seed."""
    roots = [tmp_path_factory.mktemp(f"stills_{k}") for k in "ab"]
    labels = [
        build_demo_videos(
            root,
            seed=5,
            schedules=(),
            include_real=False,
            stills=STILL_SUBSET,
            still_duration_s=5.0,
        )  # fmt: skip
        for root in roots
    ]
    return roots, labels


def test_still_clips_labels(still_builds):
    (root, _), (labels, _) = still_builds
    assert labels.columns == list(videos.LABEL_COLUMNS)
    assert labels.height == 3 * len(STILL_SUBSET)
    assert sorted(p.name for p in root.glob("*.mp4")) == sorted(labels["file"])
    assert set(labels["subject_id"]) == {"f15-hao", "biden"}
    for _, person in labels.group_by("subject_id"):
        assert sorted(person["kind"]) == ["constant_droop", "growing_droop", "symmetric"]
    growing = labels.filter(pl.col("kind") == "growing_droop")
    assert growing["onset_s"].is_between(*videos.ONSET_RANGE_S).all()
    assert growing["growth_mm_per_s"].is_between(*videos.GROWTH_RANGE_MM_PER_S).all()
    assert growing["max_droop_mm"].is_between(*videos.GROWTH_CAP_RANGE_MM).all()
    constant = labels.filter(pl.col("kind") == "constant_droop")
    assert constant["max_droop_mm"].is_between(*videos.CONSTANT_RANGE_MM).all()
    assert (labels["label"] == (labels["kind"] != "symmetric").cast(pl.Int8)).all()
    assert set(labels.filter(pl.col("label") == 1)["side"]) <= {"left", "right"}
    assert (labels["fps"] == videos.STILL_FPS).all()
    assert (labels["duration_s"] == 5.0).all()
    # A subset build draws the same clips as the full default list would.
    assert videos.still_schedules(5, "biden.jpg") == tuple(
        DroopSchedule(r["file"], r["kind"], r["side"], r["onset_s"], r["growth_mm_per_s"],
                      r["max_droop_mm"])
        for r in labels.filter(pl.col("source_file") == "biden.jpg").iter_rows(named=True)
    )  # fmt: skip


def test_still_clips_are_deterministic_and_decode(still_builds):
    (first, second), (labels_a, labels_b) = still_builds
    assert labels_a.equals(labels_b)
    assert (first / "labels.csv").read_bytes() == (second / "labels.csv").read_bytes()
    for name in labels_a["file"]:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
        assert videos.count_decodable_frames(first / name) == 50
        cap = cv2.VideoCapture(str(first / name))
        fps, width = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_WIDTH)
        cap.release()
        assert fps == pytest.approx(videos.STILL_FPS)
        assert 0 < width <= videos.MAX_SIDE_PX
    other_seed = videos.still_schedules(6, "biden.jpg")
    assert other_seed != videos.still_schedules(5, "biden.jpg")


def test_still_clips_show_the_droop_and_move(still_builds, landmarker):
    (root, _), (labels, _) = still_builds
    person = labels.filter(pl.col("source_file") == "0-f15-hao-ph.jpg")

    def clip(kind):
        return person.filter(pl.col("kind") == kind).row(0, named=True)

    constant, symmetric = clip("constant_droop"), clip("symmetric")
    frames = {
        kind: dict(iter_video_frames(root / row["file"], [0, 45]))
        for kind, row in (("constant", constant), ("symmetric", symmetric))
    }
    gaps = {k: [_corner_gap_mm(landmarker, f[i]) for i in (0, 45)] for k, f in frames.items()}
    sign = 1.0 if constant["side"] == "left" else -1.0  # diff = subject's left - right
    for i in range(2):
        assert sign * (gaps["constant"][i] - gaps["symmetric"][i]) > 0.5 * constant["max_droop_mm"]
    # The symmetric clip moves (head motion, noise) but keeps its symmetry.
    assert abs(gaps["symmetric"][1] - gaps["symmetric"][0]) < 0.6
    first, later = (frames["symmetric"][i].astype(np.int16) for i in (0, 45))
    assert np.abs(later - first).mean() > 2.0


def test_head_motion_is_small_smooth_and_moves_the_landmarks():
    rng = np.random.default_rng(3)
    t_s = np.arange(80) / 10.0
    centre = np.array([200.0, 240.0])
    motion = videos.head_motion(rng, t_s, centre)
    np.testing.assert_allclose(motion[0], [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    roll_deg = np.degrees(np.arctan2(motion[:, 1, 0], motion[:, 0, 0]))
    assert np.abs(roll_deg).max() <= videos.MOTION_ROLL_DEG + 1e-9
    assert np.abs(roll_deg).max() > 0.4 * videos.MOTION_ROLL_DEG
    path = np.stack([videos.move_landmarks(centre[None], m)[0] for m in motion])
    assert np.abs(path - centre).max() <= videos.MOTION_SHIFT_PX + 1e-9
    assert np.linalg.norm(np.diff(path, axis=0), axis=1).max() < 1.0  # px per frame
    # The landmark transform is the one the frames are warped with.
    image = np.zeros((480, 400), np.uint8)
    image[100, 150] = 255
    moved = cv2.warpAffine(image, motion[40], (400, 480), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(moved)
    w = moved[ys, xs].astype(float)
    centroid = np.array([np.average(xs, weights=w), np.average(ys, weights=w)])
    expected = videos.move_landmarks(np.array([[150.0, 100.0]]), motion[40])[0]
    np.testing.assert_allclose(centroid, expected, atol=0.1)


def test_windowed_droop_matches_the_full_frame_warp(landmarker):
    rgb = videos._even_crop(load_image_rgb(sample_path("biden.jpg"), max_side=640))
    pts = images.detect_landmarks_px(landmarker, rgb, "biden.jpg")
    full = warp.apply_fields(rgb, warp.droop_field(rgb.shape[:2], pts, "left", 4.0))
    windowed = videos.droop_in_window(rgb, pts, "left", 4.0)
    assert np.abs(full.astype(int) - windowed.astype(int)).max() <= 1
    assert np.abs(full.astype(int) - rgb.astype(int)).max() > 20


def test_unknown_still_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown stills"):
        videos.build_still_clips(tmp_path, stills=["no_face.mp4"])
