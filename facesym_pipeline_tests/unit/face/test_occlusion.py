"""Occlusion by a hand on real media, through the landmark pass and the quality judge.

Ground truth for WolfgangLanger_Pexels.mp4 (19.7 s, 23.976 fps) was labelled by eye from
contact sheets every 0.5 s, then frame by frame at the boundaries: a right hand over the
mouth and chin from 2.40 s, over the nose, right eye, cheek and mouth from 3.90 s, over the
right cheek and mouth corner from 5.95 s, sliding off the chin and jaw until 9.62 s. The
hand enters the frame at 2.38 s and last touches the jaw at 9.63 s; before 2.38 s and from
9.65 s the face is clear.
"""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pytest

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset
from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model, resolve_model
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline.lib.media.sampling import sample_frames

# (start_s, end_s) of the frames with a hand over the face
HAND_OVER_FACE_S = ((2.40, 3.90), (3.90, 5.95), (5.95, 9.45), (9.45, 9.62))
CLEAR_BEFORE_S, CLEAR_FROM_S = 2.38, 9.65


def _judged(tmp_path_factory, names: tuple[str, ...], hands=True) -> pl.DataFrame:
    folder = tmp_path_factory.mktemp("occ")
    for name in names:
        shutil.copy(sample_path(name), folder / name)
    inventory = scan_dataset("occ", folder)
    table = landmark_pass_for_dataset(
        inventory, sample_frames(inventory), folder, resolve_model(), workers=1, hands=hands
    )
    quality = judge_frames(table, QualityThresholds())
    names_by_id = inventory.select("media_id", "relpath")
    return quality.join(
        table.select("media_id", "frame_index", "status"), on=["media_id", "frame_index"]
    ).join(names_by_id, on="media_id")


def _occluded(quality: pl.DataFrame) -> np.ndarray:
    return np.array([any(r == "occluded" for r in reasons) for reasons in quality["reasons"]])


@pytest.fixture(scope="module")
def videos(samples, tmp_path_factory) -> pl.DataFrame:
    return _judged(tmp_path_factory, ("WolfgangLanger_Pexels.mp4", "single_face.mp4"))


@pytest.mark.slow
def test_hand_frames_of_a_real_video_are_occluded(videos):
    wl = videos.filter(
        (pl.col("relpath") == "WolfgangLanger_Pexels.mp4") & (pl.col("status") == "ok")
    )
    t = wl["t_s"].to_numpy()
    occluded = _occluded(wl)
    hand = np.zeros(len(t), dtype=bool)
    for start, end in HAND_OVER_FACE_S:
        hand |= (t >= start) & (t <= end)
    clear = (t < CLEAR_BEFORE_S) | (t >= CLEAR_FROM_S)
    assert hand.sum() >= 35 and clear.sum() >= 60  # 5 frames per second, face in every one
    recall = occluded[hand].mean()
    assert recall >= 0.9, f"recall {recall:.2f} on {hand.sum()} hand frames"
    assert not occluded[clear].any(), f"clear frames judged occluded at {t[clear & occluded]}"
    # the judge keeps the measured cover for the report
    assert (wl.filter(pl.Series(hand & occluded))["hand_cover"].drop_nulls() >= 0).all()


@pytest.mark.slow
def test_a_healthy_video_keeps_every_frame(videos):
    clean = videos.filter(pl.col("relpath") == "single_face.mp4")
    assert clean.height >= 12 and clean["hand_cover"].null_count() == 0
    assert not _occluded(clean).any()
    assert clean["passed"].all()


def test_still_with_a_hand_over_the_brow_is_occluded(samples, tmp_path_factory):
    quality = _judged(tmp_path_factory, ("Image_with_alpha.png", "obama.jpg"))
    by_name = {r["relpath"]: r for r in quality.iter_rows(named=True)}
    assert "occluded" in by_name["Image_with_alpha.png"]["reasons"]
    assert by_name["Image_with_alpha.png"]["hand_cover"] >= 0.05
    assert by_name["obama.jpg"]["hand_cover"] == 0.0 and by_name["obama.jpg"]["passed"]


def test_unmeasured_cover_never_rejects(samples, tmp_path_factory):
    quality = _judged(tmp_path_factory, ("Image_with_alpha.png",), hands=False)
    assert quality["hand_cover"].null_count() == quality.height
    assert not _occluded(quality).any()


def test_hand_bundle_is_verified():
    path = resolve_hand_model()
    assert path.name == "hand_landmarker_mp0.10.21.task"
