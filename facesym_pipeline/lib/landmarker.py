"""One MediaPipe FaceLandmarker pass per sampled frame, with image metrics measured on the
same decoded frame. Work is split per media file over a process pool, one landmarker per
worker (videos get a fresh VIDEO-mode landmarker each, since timestamps restart)."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facesym_pipeline.lib.media import MediaError, iter_video_frames, load_image_rgb

N_LANDMARKS = 478
BLENDSHAPE_NAMES: tuple[str, ...] = (
    "_neutral", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft",
    "browOuterUpRight", "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft",
    "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft",
    "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight",
    "mouthPressLeft", "mouthPressRight", "mouthPucker", "mouthRight", "mouthRollLower",
    "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft", "mouthSmileRight",
    "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight",
)  # fmt: skip
# Up to this many faces are counted in stills (a group photo must be recognised as such);
# in videos two are enough to tell "more than one face" and keep tracking cheap.
MAX_FACES_IMAGE = 5
MAX_FACES_VIDEO = 2
_METRIC_FACE_WIDTH_PX = 128  # face crops are resized to this before sharpness is measured


@dataclass
class FrameResult:
    frame_index: int
    t_s: float
    status: str  # ok | no_face | decode_failed
    face_count: int = 0
    frame_width: int = 0
    frame_height: int = 0
    landmarks: np.ndarray | None = None  # (478, 3) float32, x/y normalised to the frame
    blendshapes: np.ndarray | None = None  # (52,) float32
    transform: np.ndarray | None = None  # (4, 4) float32
    face_width_px: float | None = None
    sharpness: float | None = None
    brightness: float | None = None
    contrast: float | None = None


@dataclass
class MediaTask:
    media_id: str
    path: str
    kind: str  # image | video
    frames: Sequence[tuple[int, float]]  # (frame_index, t_s)


@dataclass
class MediaResult:
    media_id: str
    frames: list[FrameResult] = field(default_factory=list)
    error: str | None = None


def _options(model_path: str, video: bool):
    from mediapipe.tasks.python import BaseOptions, vision

    return vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=model_path),
        running_mode=vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE,
        num_faces=MAX_FACES_VIDEO if video else MAX_FACES_IMAGE,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )


def create_landmarker(model_path: str | Path, video: bool = False):
    from mediapipe.tasks.python import vision

    return vision.FaceLandmarker.create_from_options(_options(str(model_path), video))


def to_mp_image(rgb: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)


def frame_result(rgb: np.ndarray, detection, frame_index: int, t_s: float) -> FrameResult:
    """Convert one MediaPipe result to a FrameResult, keeping the largest face."""
    height, width = rgb.shape[:2]
    faces = detection.face_landmarks
    result = FrameResult(frame_index, t_s, "no_face", len(faces), width, height)
    if not faces:
        return result
    points = [np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32) for face in faces]
    spans = [np.ptp(p[:, 0]) * width * np.ptp(p[:, 1]) * height for p in points]
    best = int(np.argmax(spans))
    result.status = "ok"
    result.landmarks = points[best]
    result.blendshapes = np.array(
        [c.score for c in detection.face_blendshapes[best]], dtype=np.float32
    )
    result.transform = np.asarray(detection.facial_transformation_matrixes[best], np.float32)
    _measure_face_region(rgb, result)
    return result


def _measure_face_region(rgb: np.ndarray, result: FrameResult) -> None:
    height, width = rgb.shape[:2]
    xy = result.landmarks[:, :2] * (width, height)
    x0, y0 = np.floor(xy.min(axis=0)).astype(int)
    x1, y1 = np.ceil(xy.max(axis=0)).astype(int)
    result.face_width_px = float(x1 - x0)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    gray = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    scale = _METRIC_FACE_WIDTH_PX / gray.shape[1]
    gray = cv2.resize(gray, (_METRIC_FACE_WIDTH_PX, max(4, round(gray.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)  # fmt: skip
    result.sharpness = float(cv2.Laplacian(gray, cv2.CV_64F).var())
    result.brightness = float(gray.mean())
    result.contrast = float(gray.std())


def analyse_media(task: MediaTask, model_path: str, image_landmarker=None) -> MediaResult:
    """Run the landmarker over the task's frames; never raises for a bad file."""
    out = MediaResult(task.media_id)
    try:
        if task.kind == "image":
            rgb = load_image_rgb(Path(task.path))
            own = image_landmarker is None
            landmarker = create_landmarker(model_path) if own else image_landmarker
            try:
                for frame_index, t_s in task.frames:
                    detection = landmarker.detect(to_mp_image(rgb))
                    out.frames.append(frame_result(rgb, detection, frame_index, t_s))
            finally:
                if own:
                    landmarker.close()
        else:
            times = dict(task.frames)
            with create_landmarker(model_path, video=True) as landmarker:
                for frame_index, rgb in iter_video_frames(Path(task.path), times):
                    t_s = times[frame_index]
                    if rgb is None:
                        out.frames.append(FrameResult(frame_index, t_s, "decode_failed"))
                        continue
                    detection = landmarker.detect_for_video(to_mp_image(rgb), round(t_s * 1000))
                    out.frames.append(frame_result(rgb, detection, frame_index, t_s))
    except MediaError as exc:
        out.error = exc.reason
    except Exception as exc:  # one bad file must not take down the partition
        out.error = f"landmark_failure: {type(exc).__name__}: {str(exc)[:160]}"
    return out


_worker_state: dict = {}


def _init_worker(model_path: str) -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    cv2.setNumThreads(1)
    _worker_state["model_path"] = model_path
    _worker_state["image"] = create_landmarker(model_path)


def _run_in_worker(task: MediaTask) -> MediaResult:
    return analyse_media(task, _worker_state["model_path"], _worker_state["image"])


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def run_landmark_pass(
    tasks: Iterable[MediaTask], model_path: str | Path, workers: int | None = None
) -> Iterable[MediaResult]:
    """Yield one MediaResult per task (in task order); workers<=1 runs in this process."""
    tasks = list(tasks)
    workers = default_workers() if workers is None else workers
    if workers <= 1 or len(tasks) <= 1:
        with create_landmarker(str(model_path)) as landmarker:
            for task in tasks:
                yield analyse_media(task, str(model_path), landmarker)
        return
    # spawn, not fork: the caller may hold threads (Dagster, gRPC) that fork would copy
    # in a locked state.
    with ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(model_path),),
    ) as pool:
        yield from pool.map(_run_in_worker, tasks, chunksize=1)
