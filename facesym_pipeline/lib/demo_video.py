"""A demo video dataset: the real sample videos, plus videos made from a real video's
frames with a mouth-corner droop that appears at a known time and grows at a known rate
(and one that stays constant, and an untouched control), as ground truth for trends.

The generated clips play `single_face.mp4` forwards then backwards repeatedly, so the
motion is natural and seamless; each frame's own landmarks (VIDEO-mode landmarker) place
its warp, so the droop follows the face as it moves.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from facesym_pipeline.lib import warp
from facesym_pipeline.lib.demo_data import FaceNotFoundError
from facesym_pipeline.lib.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.media import iter_video_frames, probe
from facesym_pipeline.lib.model_file import resolve_model
from facesym_pipeline.lib.samples import sample_path

MAX_SIDE_PX = 640
BASE_VIDEO = "single_face.mp4"
BASE_SUBJECT = "single-face-video"
REAL_VIDEOS: tuple[tuple[str, str], ...] = (
    ("single_face.mp4", BASE_SUBJECT),
    ("WolfgangLanger_Pexels.mp4", "wolfgang-langer"),
    ("face_noface.mov", "face-noface"),
)
LABELS_FILE = "labels.csv"
LABEL_COLUMNS = (
    "file", "label", "subject_id", "source_file", "kind", "side", "onset_s",
    "growth_mm_per_s", "max_droop_mm", "fps", "duration_s",
)  # fmt: skip


@dataclass(frozen=True)
class DroopSchedule:
    """Droop on `side` that is 0 before `onset_s`, then grows linearly up to `max_droop_mm`.

    A constant droop is onset 0 with an infinite rate; no droop is max_droop_mm 0.
    """

    file: str
    kind: str  # growing_droop | constant_droop | symmetric
    side: str = "none"
    onset_s: float | None = None
    growth_mm_per_s: float = 0.0
    max_droop_mm: float = 0.0

    def droop_mm(self, t_s: np.ndarray) -> np.ndarray:
        t_s = np.asarray(t_s, dtype=np.float64)
        if self.max_droop_mm <= 0:
            return np.zeros_like(t_s)
        if self.kind == "constant_droop":
            return np.full_like(t_s, self.max_droop_mm)
        grown = self.growth_mm_per_s * np.clip(t_s - (self.onset_s or 0.0), 0.0, None)
        return np.minimum(grown, self.max_droop_mm)


DEFAULT_SCHEDULES: tuple[DroopSchedule, ...] = (
    DroopSchedule("droop_growing_left.mp4", "growing_droop", "left", 3.0, 0.8, 5.0),
    DroopSchedule("droop_growing_right.mp4", "growing_droop", "right", 4.0, 0.6, 5.0),
    DroopSchedule("droop_constant_left.mp4", "constant_droop", "left", 0.0, 0.0, 4.0),
    DroopSchedule("symmetric_control.mp4", "symmetric"),
)


class VideoWriteError(RuntimeError):
    """A generated video that does not decode back as written."""


def ping_pong_indices(n_frames: int, n_out: int) -> np.ndarray:
    """0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...: a seamless loop of a short clip."""
    if n_frames < 2:
        return np.zeros(n_out, dtype=np.int64)
    period = 2 * (n_frames - 1)
    phase = np.arange(n_out) % period
    return np.where(phase < n_frames, phase, period - phase)


def _load_frames(path: Path) -> tuple[list[np.ndarray], float]:
    info = probe(path)
    frames = [rgb for _, rgb in iter_video_frames(path, range(info.n_frames), MAX_SIDE_PX)]
    frames = [f for f in frames if f is not None]
    if not frames:
        raise VideoWriteError(f"no decodable frames in {path.name}")
    return frames, float(info.fps)


def track_landmarks_px(frames: list[np.ndarray], fps: float, name: str) -> np.ndarray:
    """(n, 478, 2) pixel landmarks per frame from a VIDEO-mode landmarker.

    A frame where tracking drops out reuses the previous frame's landmarks (the clips are
    continuous); a clip whose first frame has no face is refused.
    """
    out = np.empty((len(frames), 478, 2), dtype=np.float64)
    with create_landmarker(resolve_model(), video=True) as landmarker:
        for i, rgb in enumerate(frames):
            detection = landmarker.detect_for_video(to_mp_image(rgb), round(i * 1000 / fps))
            result = frame_result(rgb, detection, i, i / fps)
            if result.status == "ok":
                out[i] = result.landmarks[:, :2] * (rgb.shape[1], rgb.shape[0])
            elif i == 0:
                raise FaceNotFoundError(
                    f"no face found in the first frame of {name!r}; cannot place the warp"
                )
            else:
                out[i] = out[i - 1]
    return out


def write_video(path: Path, frames_rgb, fps: float, size_wh: tuple[int, int]) -> int:
    """Write RGB frames with the mp4v codec, then decode the file back to check it."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size_wh)
    if not writer.isOpened():
        raise VideoWriteError(f"cannot open a video writer for {path.name}")
    written = 0
    try:
        for rgb in frames_rgb:
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            written += 1
    finally:
        writer.release()
    decoded = count_decodable_frames(path)
    if decoded != written:
        raise VideoWriteError(f"{path.name}: wrote {written} frames, decoded {decoded}")
    return written


def count_decodable_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    try:
        count = 0
        while cap.grab():
            count += 1
        return count
    finally:
        cap.release()


def _write_video_if_changed(path: Path, frames_rgb, fps: float, size_wh: tuple[int, int]) -> None:
    """Encode next to the target and swap it in only when the bytes differ, so an
    unchanged rerun leaves the file (and its mtime) alone; a failed write leaves no file."""
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write_video(tmp, frames_rgb, fps, size_wh)
        if path.exists() and path.read_bytes() == tmp.read_bytes():
            tmp.unlink()
        else:
            tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _copy_if_changed(src: Path, dst: Path) -> None:
    if dst.exists() and dst.stat().st_size == src.stat().st_size:
        if dst.read_bytes() == src.read_bytes():
            return
    shutil.copyfile(src, dst)


def build_demo_videos(
    out_dir: Path,
    seed: int = 7,
    duration_s: float = 10.0,
    schedules: tuple[DroopSchedule, ...] = DEFAULT_SCHEDULES,
    include_real: bool = True,
) -> pl.DataFrame:
    """Write the demo videos under `out_dir` and return their labels table.

    The generated clips contain no random element (the droop schedule and the source frames
    fix them); `seed` is accepted for symmetry with the image builder and recorded nowhere.
    """
    del seed
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    if include_real:
        for name, subject in REAL_VIDEOS:
            src = sample_path(name)
            info = probe(src)
            _copy_if_changed(src, out_dir / name)
            rows.append(
                {"file": name, "label": None, "subject_id": subject, "source_file": name,
                 "kind": "real", "side": "none", "onset_s": None, "growth_mm_per_s": None,
                 "max_droop_mm": None, "fps": info.fps, "duration_s": info.duration_s}
            )  # fmt: skip

    if schedules:
        frames, fps = _load_frames(sample_path(BASE_VIDEO))
        n_out = max(1, round(duration_s * fps))
        order = ping_pong_indices(len(frames), n_out)
        sequence = [frames[i] for i in order]
        landmarks = track_landmarks_px(sequence, fps, BASE_VIDEO)
        height, width = frames[0].shape[:2]
        t_s = np.arange(n_out) / fps
        for schedule in schedules:
            droop = schedule.droop_mm(t_s)

            def rendered(schedule=schedule, droop=droop):
                for rgb, pts, mm in zip(sequence, landmarks, droop, strict=True):
                    if mm <= 0:
                        yield rgb
                    else:
                        field = warp.droop_field(rgb.shape[:2], pts, schedule.side, float(mm))
                        yield warp.apply_fields(rgb, field)

            _write_video_if_changed(out_dir / schedule.file, rendered(), fps, (width, height))
            rows.append(
                {"file": schedule.file, "label": int(schedule.max_droop_mm > 0),
                 "subject_id": BASE_SUBJECT, "source_file": BASE_VIDEO, "kind": schedule.kind,
                 "side": schedule.side, "onset_s": schedule.onset_s,
                 "growth_mm_per_s": schedule.growth_mm_per_s,
                 "max_droop_mm": schedule.max_droop_mm, "fps": fps, "duration_s": n_out / fps}
            )  # fmt: skip

    labels = pl.DataFrame(
        rows,
        schema={
            "file": pl.String, "label": pl.Int8, "subject_id": pl.String,
            "source_file": pl.String, "kind": pl.String, "side": pl.String,
            "onset_s": pl.Float64, "growth_mm_per_s": pl.Float64, "max_droop_mm": pl.Float64,
            "fps": pl.Float64, "duration_s": pl.Float64,
        },
    ).select(LABEL_COLUMNS)  # fmt: skip
    csv = labels.write_csv()
    labels_path = out_dir / LABELS_FILE
    if not labels_path.exists() or labels_path.read_text() != csv:
        labels_path.write_text(csv)
    return labels
