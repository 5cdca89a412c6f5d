"""The landmark pass overlaps decoding, MediaPipe and the per-frame work after it (image
metrics, hand cover, refinement) in three threads: its results are exactly those of doing
each step in turn, frame by frame, and a bad file is still recorded, not raised."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np

from facesym_pipeline.lib.face.landmarker import (
    LandmarkSession,
    MediaTask,
    create_landmarker,
    frame_result,
    to_mp_image,
)
from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model
from facesym_pipeline.lib.face.occlusion import HandCover
from facesym_pipeline.lib.media.decode import iter_video_frames, load_image_rgb
from facesym_pipeline.lib.media.sampling import video_frame_plan


def _sequential(model_path: Path, still: Path, video: Path, plan, hands: HandCover):
    """What the pass did before it was pipelined: decode, detect, measure, one by one."""
    rgb = load_image_rgb(still)
    with create_landmarker(model_path) as image_lm:
        out = [frame_result(rgb, image_lm.detect(to_mp_image(rgb)), 0, 0.0, True, hands)]
    times = dict(plan)
    with create_landmarker(model_path, video=True) as video_lm:
        for index, rgb in iter_video_frames(video, times):
            # A session's first video starts 1 s after its clock's origin.
            detection = video_lm.detect_for_video(
                to_mp_image(rgb), 1000 + round(times[index] * 1000)
            )
            out.append(frame_result(rgb, detection, index, times[index], False, hands))
    return out


def _same(a, b) -> None:
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
            np.testing.assert_array_equal(x, y, err_msg=field.name)
        else:
            assert x == y, (field.name, x, y)


def test_pipelined_session_equals_each_step_in_turn(samples, model_path, tmp_path):
    still, video = samples["0-f1-su-ph.jpg"], samples["single_face.mp4"]
    cap = cv2.VideoCapture(str(video))
    indices, times = video_frame_plan(cap.get(cv2.CAP_PROP_FPS), int(cap.get(7)), 5.0)
    cap.release()
    plan = list(zip(indices.tolist(), times.tolist(), strict=True))
    tasks = [
        MediaTask("still", str(still), "image", [(0, 0.0)]),
        MediaTask("video", str(video), "video", plan),
        MediaTask("gone", str(tmp_path / "missing.mp4"), "video", plan[:2]),
        MediaTask("broken", str(tmp_path / "broken.jpg"), "image", [(0, 0.0)]),
    ]
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    bundle = resolve_hand_model()

    # Queues of one frame: every hand-over between the threads is exercised.
    with LandmarkSession(model_path, hands=bundle) as session:
        results = session.analyse(tasks, prefetch=1, finish_ahead=1)
    hands = HandCover(bundle)
    try:
        expected = _sequential(model_path, still, video, plan, hands)
    finally:
        hands.close()

    assert [r.media_id for r in results] == ["still", "video", "gone", "broken"]
    got = results[0].frames + results[1].frames
    assert [f.frame_index for f in got] == [0, *indices.tolist()]
    assert {f.status for f in got} == {"ok"}
    assert got[0].refined_xy is not None and got[1].refined_xy is None  # stills only
    for a, b in zip(got, expected, strict=True):
        _same(a, b)
    assert results[0].error is None and results[1].error is None
    assert [f.status for f in results[2].frames] == ["decode_failed", "decode_failed"]
    assert results[3].error == "corrupt_image" and not results[3].frames
