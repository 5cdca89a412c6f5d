"""The landmark pass decodes a video once, grabbing the frames it skips (`grab()` without
`retrieve()`) in one decoder thread: the frames it keeps are exactly those that decoding
and converting every frame gives."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facesym_pipeline.lib.media.decode import _bgr_to_rgb_bounded, iter_video_frames
from facesym_pipeline.lib.media.sampling import video_frame_plan


def every_frame_rgb(path: Path, max_side: int) -> list[np.ndarray]:
    """Decode and convert every frame, with OpenCV's default decoder threads."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(_bgr_to_rgb_bounded(frame, max_side))
    cap.release()
    return frames


@pytest.mark.parametrize(
    "name",
    ["single_face.mp4", "face_noface.mov", "WolfgangLanger_Pexels.mp4"],  # 30, 26.4, 23.976 fps
)
def test_sampled_frames_equal_decoding_every_frame(samples: dict[str, Path], name: str):
    path = samples[name]
    cap = cv2.VideoCapture(str(path))
    fps, n_frames = cap.get(cv2.CAP_PROP_FPS), int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    max_side = 480  # also checks the downscale of the kept frames
    reference = every_frame_rgb(path, max_side)
    assert len(reference) == n_frames

    indices, _ = video_frame_plan(fps, n_frames, 5.0)  # the pipeline's default sampling
    assert 1 < len(indices) < n_frames
    sampled = list(iter_video_frames(path, indices, max_side))
    assert [i for i, _ in sampled] == indices.tolist()
    for index, rgb in sampled:
        assert rgb is not None and rgb.flags["C_CONTIGUOUS"]
        assert np.array_equal(rgb, reference[index]), f"frame {index} of {name} differs"


def test_frames_past_the_end_are_reported_missing(samples: dict[str, Path]):
    path = samples["single_face.mp4"]
    frames = dict(iter_video_frames(path, [0, 71, 72, 500]))  # the video has 72 frames
    assert frames[0] is not None and frames[71] is not None
    assert frames[72] is None and frames[500] is None
