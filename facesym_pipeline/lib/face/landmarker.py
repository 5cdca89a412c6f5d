"""One MediaPipe FaceLandmarker pass per sampled frame, with image metrics and the hand
cover (occlusion) measured on the same decoded frame. Work is split per media file over a
process pool, one face landmarker and one hand detector per worker."""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facesym_pipeline.lib.face.native_log import (
    QuietNative,
    native_log_path,
    native_logs_to,
    send_native_logs_to,
)
from facesym_pipeline.lib.face.occlusion import HandCover
from facesym_pipeline.lib.face.refine import REFINED_POINTS, refine_points
from facesym_pipeline.lib.media.decode import MediaError, iter_video_frames, load_image_rgb

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
_METRIC_FACE_WIDTH_PX = 128  # face crops are resized to this width for brightness/contrast
# Extra Gaussian blur of the re-blur estimate. The gradient energy of a Gaussian-blurred edge
# falls as 1/sigma, so rho = E(after extra blur s) / E(as is) = sigma / sqrt(sigma^2 + s^2).
_REBLUR_SIGMA_PX = 1.5


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
    second_face_ratio: float | None = None  # widest other face / this face's width
    blur_sigma_px: float | None = None  # estimated blur (Gaussian sigma) at native resolution
    hand_cover: float | None = None  # fraction of the face oval under a hand; None: not measured
    brightness: float | None = None
    contrast: float | None = None
    refined_xy: np.ndarray | None = None  # (len(REFINED_POINTS), 2) pixel positions


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


def create_landmarker(
    model_path: str | Path, video: bool = False, native_log: str | Path | None = None
):
    """A FaceLandmarker whose native log lines (creation, every call, closing) go to the
    native log file (`lib.face.native_log`: `native_log`, else FACESYM_NATIVE_LOG, else
    warehouse/logs/native.log), not to the terminal."""
    from mediapipe.tasks.python import vision

    with native_logs_to(native_log) as log_path:
        landmarker = vision.FaceLandmarker.create_from_options(_options(str(model_path), video))
    return QuietNative(landmarker, log_path)


def to_mp_image(rgb: np.ndarray):
    import mediapipe as mp

    return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)


def frame_result(
    rgb: np.ndarray,
    detection,
    frame_index: int,
    t_s: float,
    refine: bool = True,
    hands: HandCover | None = None,
) -> FrameResult:
    """Convert one MediaPipe result to a FrameResult, keeping the largest face.

    `refine` re-locates the mouth corners and lid margins from the pixels (stills only in
    the pipeline: on compressed video frames the search is noisier than the mesh).
    `hands` measures how much of the face a hand covers (None: not measured)."""
    height, width = rgb.shape[:2]
    faces = detection.face_landmarks
    result = FrameResult(frame_index, t_s, "no_face", len(faces), width, height)
    if not faces:
        return result
    points = [np.array([(p.x, p.y, p.z) for p in face], dtype=np.float32) for face in faces]
    spans = [np.ptp(p[:, 0]) * width * np.ptp(p[:, 1]) * height for p in points]
    best = int(np.argmax(spans))
    if len(points) > 1:
        # A small face in the background does not disturb the measurement of the main one;
        # the judge decides from this ratio.
        widths = np.array([np.ptp(p[:, 0]) for p in points])
        result.second_face_ratio = float(np.delete(widths, best).max() / max(widths[best], 1e-9))
    result.status = "ok"
    result.landmarks = points[best]
    result.blendshapes = np.array(
        [c.score for c in detection.face_blendshapes[best]], dtype=np.float32
    )
    result.transform = np.asarray(detection.facial_transformation_matrixes[best], np.float32)
    _measure_face_region(rgb, result)
    if hands is not None:
        result.hand_cover = hands(rgb, result.landmarks[:, :2] * (width, height))
    if refine:
        refined = refine_points(rgb, result.landmarks)
        result.refined_xy = np.array([refined[i] for i in REFINED_POINTS], dtype=np.float32)
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
    result.blur_sigma_px = blur_sigma_px(gray)
    scale = _METRIC_FACE_WIDTH_PX / gray.shape[1]
    gray = cv2.resize(gray, (_METRIC_FACE_WIDTH_PX, max(4, round(gray.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)  # fmt: skip
    result.brightness = float(gray.mean())
    result.contrast = float(gray.std())


def blur_sigma_px(gray: np.ndarray) -> float:
    """Blur width (Gaussian sigma, px) of a face crop at its native resolution, by re-blurring.

    Unlike a Laplacian variance after resizing, it measures blur in the image's own pixels,
    so with the face's mm-per-pixel scale it becomes a blur on the face in mm: the same
    limit then holds for a 100-px and a 1000-px face, and an upscaled small face does not
    pass as sharp. Sensor noise raises gradient energy and so under-reads blur."""
    image = gray.astype(np.float32)

    def energy(img: np.ndarray) -> float:
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)[2:-2, 2:-2]
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)[2:-2, 2:-2]
        return float(np.mean(gx * gx + gy * gy))

    rho = energy(cv2.GaussianBlur(image, (0, 0), _REBLUR_SIGMA_PX)) / max(energy(image), 1e-9)
    rho = min(rho, 0.999)  # a flat crop (no edges at all) reads as very blurred
    return float(_REBLUR_SIGMA_PX * rho / np.sqrt(1.0 - rho * rho))


class LandmarkSession:
    """One IMAGE-mode and one VIDEO-mode landmarker, reused for every file a worker sees.

    Creating a landmarker costs a few hundred ms, more than a short video's inference, so
    the VIDEO one is kept and fed one continuous clock: each video starts 1 s after the
    previous one ended, behind a blank frame that makes the tracker drop the old face.

    `hands`: True measures the hand cover with the verified hand bundle, a path uses that
    bundle, False leaves `hand_cover` unmeasured (None). Native log lines go to `native_log`
    (default: `lib.face.native_log.native_log_path()`).
    """

    _RESET_FRAME = np.zeros((64, 64, 3), dtype=np.uint8)

    def __init__(
        self,
        model_path: str | Path,
        hands: bool | str | Path = True,
        native_log: str | Path | None = None,
    ):
        self.model_path = str(model_path)
        self.native_log = native_log_path(native_log)
        self._image = create_landmarker(self.model_path, native_log=self.native_log)
        self._video = None
        self._clock_ms = 0
        self._hands = None
        if hands is not False:
            from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model

            bundle = resolve_hand_model() if hands is True else hands
            self._hands = HandCover(bundle, native_log=self.native_log)

    def close(self) -> None:
        self._image.close()
        if self._hands is not None:
            self._hands.close()
        if self._video is not None:
            self._video.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def analyse(
        self, tasks: Sequence[MediaTask], prefetch: int = 4, finish_ahead: int = 4
    ) -> list[MediaResult]:
        """Landmarks for every frame of every task. Never raises for a bad file: the
        reason is recorded on its result.

        Three stages overlap, so only MediaPipe's face landmarker is on the critical path:
        decoding runs up to `prefetch` frames ahead in a thread, and the per-frame work
        after it (result conversion, image metrics, hand cover, refinement of stills) up
        to `finish_ahead` frames behind in another (OpenCV, PIL and MediaPipe release the
        GIL). Both queues are bounded, so at most a few decoded frames are held at once.
        Native log lines go to the log file for the whole call (one redirection, not one
        per MediaPipe call)."""
        results = {t.media_id: MediaResult(t.media_id) for t in tasks}
        by_id = {t.media_id: t for t in tasks}
        started: set[str] = set()
        pending: deque = deque()  # (media_id, Future of FrameResult), in frame order

        def settle(keep: int) -> None:
            while len(pending) > keep:
                media_id, future = pending.popleft()
                try:
                    results[media_id].frames.append(future.result())
                except Exception as exc:  # one bad file must not take down the partition
                    results[media_id].error = _landmark_failure(exc)

        with (
            native_logs_to(self.native_log),
            ThreadPoolExecutor(1, thread_name_prefix="landmark-finish") as finisher,
        ):
            for media_id, frame_index, t_s, rgb, error in _prefetched(_decode(tasks), prefetch):
                out = results[media_id]
                if error is not None:
                    settle(0)
                    out.error = error
                    continue
                if rgb is None:
                    settle(0)
                    out.frames.append(FrameResult(frame_index, t_s, "decode_failed"))
                    continue
                still = by_id[media_id].kind == "image"
                try:
                    if still:
                        detection = self._image.detect(to_mp_image(rgb))
                    else:
                        if media_id not in started:
                            started.add(media_id)
                            self._start_video()
                        timestamp = self._video_origin + round(t_s * 1000)
                        self._clock_ms = max(self._clock_ms + 1, timestamp)
                        detection = self._video.detect_for_video(to_mp_image(rgb), self._clock_ms)
                except Exception as exc:  # one bad file must not take down the partition
                    settle(0)
                    out.error = _landmark_failure(exc)
                    continue
                pending.append(
                    (
                        media_id,
                        finisher.submit(
                            frame_result, rgb, detection, frame_index, t_s, still, self._hands
                        ),
                    )
                )
                settle(finish_ahead)
            settle(0)
        return [results[t.media_id] for t in tasks]

    def _start_video(self) -> None:
        if self._video is None:
            self._video = create_landmarker(self.model_path, True, self.native_log)
        else:
            self._clock_ms += 1000
            self._video.detect_for_video(to_mp_image(self._RESET_FRAME), self._clock_ms)
        self._video_origin = self._clock_ms + 1000


def _landmark_failure(exc: Exception) -> str:
    return f"landmark_failure: {type(exc).__name__}: {str(exc)[:160]}"


def _decode(tasks: Sequence[MediaTask]):
    """(media_id, frame_index, t_s, rgb or None, media error or None) in task order."""
    for task in tasks:
        try:
            if task.kind == "image":
                rgb = load_image_rgb(Path(task.path))
                for frame_index, t_s in task.frames:
                    yield task.media_id, frame_index, t_s, rgb, None
            else:
                times = dict(task.frames)
                for frame_index, rgb in iter_video_frames(Path(task.path), times):
                    yield task.media_id, frame_index, times[frame_index], rgb, None
        except MediaError as exc:
            yield task.media_id, -1, 0.0, None, exc.reason
        except Exception as exc:
            yield task.media_id, -1, 0.0, None, f"decode_failure: {type(exc).__name__}: {exc}"[:200]


def _prefetched(items, depth: int):
    """Run an iterator in a background thread, at most `depth` items ahead."""
    if depth <= 0:
        yield from items
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def produce():
        try:
            for item in items:
                buffer.put(item)
        finally:
            buffer.put(done)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    while (item := buffer.get()) is not done:
        yield item
    worker.join()


_worker_state: dict = {}


def _init_worker(model_path: str, hands: bool | str, native_log: str) -> None:
    # The worker only runs native code: all of its stderr goes to the log file, for good.
    send_native_logs_to(native_log)
    cv2.setNumThreads(1)
    _worker_state["session"] = LandmarkSession(model_path, hands, native_log)


def _run_in_worker(batch: list[MediaTask]) -> list[MediaResult]:
    return _worker_state["session"].analyse(batch)


def batches(tasks: Sequence[MediaTask], images_per_batch: int = 16) -> list[list[MediaTask]]:
    """Each video alone; images in groups, so per-call overhead is shared and decoding the
    next image overlaps inference on this one."""
    out: list[list[MediaTask]] = []
    images: list[MediaTask] = []
    for task in tasks:
        if task.kind == "video":
            out.append([task])
        else:
            images.append(task)
            if len(images) == images_per_batch:
                out.append(images)
                images = []
    if images:
        out.append(images)
    return out


def default_workers() -> int:
    """FACESYM_LANDMARK_WORKERS (a Celery worker that owns one core sets 1), else one per
    core up to 8."""
    configured = os.environ.get("FACESYM_LANDMARK_WORKERS")
    if configured:
        return max(1, int(configured))
    return max(1, min(os.cpu_count() or 1, 8))


def run_landmark_pass(
    tasks: Iterable[MediaTask],
    model_path: str | Path,
    workers: int | None = None,
    hands: bool | str | Path = True,
    native_log: str | Path | None = None,
) -> Iterable[MediaResult]:
    """Yield one MediaResult per task, in task order; workers<=1 runs in this process.
    `hands` and `native_log` as in LandmarkSession."""
    tasks = list(tasks)
    native_log = native_log_path(native_log)  # resolved here, where the caller's env is
    if hands is True:  # resolved (and hash-checked) once here, not in every worker
        from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model

        hands = resolve_hand_model()
    workers = default_workers() if workers is None else workers
    work = batches(tasks, images_per_batch=max(1, min(16, len(tasks) // (2 * max(workers, 1)))))
    if workers <= 1 or len(work) <= 1:
        with LandmarkSession(model_path, hands, native_log) as session:
            for batch in work:
                yield from session.analyse(batch)
        return
    # spawn, not fork: the caller may hold threads (Dagster, gRPC) that fork would copy
    # in a locked state.
    with ProcessPoolExecutor(
        max_workers=min(workers, len(work)),
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_init_worker,
        initargs=(str(model_path), hands if hands is False else str(hands), str(native_log)),
    ) as pool:
        for results in pool.map(_run_in_worker, work, chunksize=1):
            yield from results
