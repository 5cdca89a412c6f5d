"""A demo video dataset: the real sample videos, plus videos made from a real video's
frames with a mouth-corner droop that appears at a known time and grows at a known rate
(and one that stays constant, and an untouched control), as ground truth for trends.

The generated clips play `single_face.mp4` forwards then backwards repeatedly, so the
motion is natural and seamless; each frame's own landmarks (VIDEO-mode landmarker) place
its warp, so the droop follows the face as it moves.

Since those all show one person, clips of more people are made from the real frontal
stills (`still_*.mp4`): per person a growing droop, a constant droop and a symmetric clip,
each with a small smooth head motion (translation and roll), per-frame sensor noise and a
slight brightness flicker, all drawn from the seed. The face moves rigidly, so the droop is
warped into the still once per frame (in a window around the mouth corner) and the frame is
then moved as a whole: the same as placing the warp at the moved landmarks, at a fraction
of the cost.
"""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from facesym_pipeline.demo import warp
from facesym_pipeline.demo.images import SOURCES as STILL_SUBJECTS
from facesym_pipeline.demo.images import FaceNotFoundError, detect_landmarks_px
from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.media.decode import iter_video_frames, load_image_rgb, probe

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


# Frontal stills that become short clips of further people (obama2.jpg would repeat obama).
STILL_FILES: tuple[str, ...] = (
    "0-f1-su-ph.jpg",
    "0-f15-hao-ph.jpg",
    "obama.jpg",
    "biden.jpg",
    "astronaut.png",
    "single_face.jpg",
)
STILL_FPS = 10.0
STILL_DURATION_S = 8.0
# Ranges the still clips draw from (uniform): growing droop onset, rate and cap, constant
# droop size; head motion peak translation and roll; sensor noise SD and flicker depth.
ONSET_RANGE_S = (2.0, 4.0)
GROWTH_RANGE_MM_PER_S = (0.5, 1.0)
GROWTH_CAP_RANGE_MM = (4.0, 5.0)
CONSTANT_RANGE_MM = (3.0, 5.0)
MOTION_SHIFT_PX = 3.0
MOTION_ROLL_DEG = 1.0
NOISE_SIGMA_RANGE = (1.5, 3.0)
FLICKER_DEPTH = 0.02
# Noise fields are drawn once per clip, a little larger than the frame, and each frame
# takes a randomly placed crop of one of them: fresh-looking noise per frame for the cost
# of a slice.
_NOISE_BANK = 2
_NOISE_MARGIN_PX = 32
# The droop field falls below exp(-8) of its peak this many Gaussian radii from the corner.
_DROOP_WINDOW_SIGMAS = 4.0


def _clip_rng(seed: int, still: str, clip: int) -> np.random.Generator:
    # crc32 rather than hash(): str hashes are salted per process.
    return np.random.default_rng([seed, zlib.crc32(still.encode()), clip])


def still_schedules(seed: int, still: str) -> tuple[DroopSchedule, ...]:
    """The three clips of one still: growing droop, constant droop, symmetric.

    Sides, onset, rate and sizes come from the seed and the still's name only, so a build of
    some stills gives the same clips as a build of all.
    """
    subject = dict(STILL_SUBJECTS)[still]
    rng = _clip_rng(seed, still, 0)
    grow_side, const_side = (str(rng.choice(["left", "right"])) for _ in range(2))
    onset = round(float(rng.uniform(*ONSET_RANGE_S)), 1)
    rate = round(float(rng.uniform(*GROWTH_RANGE_MM_PER_S)), 2)
    cap = round(float(rng.uniform(*GROWTH_CAP_RANGE_MM)), 1)
    constant = round(float(rng.uniform(*CONSTANT_RANGE_MM)), 1)
    stem = f"still_{subject}"
    return (
        DroopSchedule(f"{stem}_growing_{grow_side}.mp4", "growing_droop", grow_side, onset,
                      rate, cap),
        DroopSchedule(f"{stem}_constant_{const_side}.mp4", "constant_droop", const_side, 0.0,
                      0.0, constant),
        DroopSchedule(f"{stem}_symmetric.mp4", "symmetric"),
    )  # fmt: skip


def smooth_wander(rng: np.random.Generator, t_s: np.ndarray, peak: float) -> np.ndarray:
    """A smooth random signal over `t_s`: three slow sinusoids (0.05-0.5 Hz) with random
    phases, scaled so its largest excursion is between half and all of `peak`."""
    freqs = rng.uniform(0.05, 0.5, 3)
    phases = rng.uniform(0, 2 * np.pi, 3)
    weights = rng.uniform(0.3, 1.0, 3)
    wave = (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * t_s + phases[:, None])).sum(0)
    wave -= wave[0]  # every clip starts from the still's own pose
    top = float(np.abs(wave).max())
    return wave * (peak * rng.uniform(0.5, 1.0) / top) if top > 0 else wave


def head_motion(rng: np.random.Generator, t_s: np.ndarray, centre_xy: np.ndarray) -> np.ndarray:
    """(n, 2, 3) affine matrices: roll about the face centre plus a translation, smooth in
    time (a few px and about a degree)."""
    dx = smooth_wander(rng, t_s, MOTION_SHIFT_PX)
    dy = smooth_wander(rng, t_s, MOTION_SHIFT_PX)
    roll = smooth_wander(rng, t_s, MOTION_ROLL_DEG)
    centre = (float(centre_xy[0]), float(centre_xy[1]))
    out = np.empty((t_s.size, 2, 3), dtype=np.float64)
    for i in range(t_s.size):
        out[i] = cv2.getRotationMatrix2D(centre, float(roll[i]), 1.0)
        out[i, :, 2] += (dx[i], dy[i])
    return out


def move_landmarks(landmarks_px: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Landmark pixel coordinates after the affine `matrix` of `head_motion`."""
    pts = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    return pts @ matrix[:, :2].T + matrix[:, 2]


def droop_in_window(
    rgb: np.ndarray, landmarks_px: np.ndarray, side: str, droop_mm: float
) -> np.ndarray:
    """`warp.droop_field` applied only in a window around the drooping corner, outside of
    which the field is below exp(-8) of its peak (a fraction of a hundredth of a pixel)."""
    pts = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    corner = pts[warp.MOUTH_CORNER[side]]
    mouth_width = np.linalg.norm(pts[warp.MOUTH_CORNER["left"]] - pts[warp.MOUTH_CORNER["right"]])
    droop_px = droop_mm / warp.mm_per_px_from_landmarks(pts)
    reach = _DROOP_WINDOW_SIGMAS * warp.DROOP_SIGMA_FRACTION * mouth_width + droop_px + 2
    height, width = rgb.shape[:2]
    x0, y0 = (max(0, int(np.floor(c - reach))) for c in corner)
    x1 = min(width, int(np.ceil(corner[0] + reach)) + 1)
    y1 = min(height, int(np.ceil(corner[1] + reach)) + 1)
    window = rgb[y0:y1, x0:x1]
    field = warp.droop_field(window.shape[:2], pts - (x0, y0), side, droop_mm)
    out = rgb.copy()
    out[y0:y1, x0:x1] = warp.apply_fields(window, field)
    return out


def _noise_bank(rng: np.random.Generator, shape_hw: tuple[int, int], sigma: float):
    """Integer noise split into its positive and negative parts (uint8), so that adding it
    is two saturating OpenCV operations."""
    h, w = shape_hw[0] + _NOISE_MARGIN_PX, shape_hw[1] + _NOISE_MARGIN_PX
    noise = rng.standard_normal((_NOISE_BANK, h, w, 3), dtype=np.float32) * np.float32(sigma)
    noise = np.rint(noise).astype(np.int16)
    return np.clip(noise, 0, 255).astype(np.uint8), np.clip(-noise, 0, 255).astype(np.uint8)


def render_still_clip(
    rgb: np.ndarray,
    landmarks_px: np.ndarray,
    schedule: DroopSchedule,
    rng: np.random.Generator,
    fps: float = STILL_FPS,
    duration_s: float = STILL_DURATION_S,
):
    """Frames (RGB uint8) of one still clip, lazily: droop at that frame's time, then the
    head motion, the flicker and the sensor noise."""
    n = max(1, round(duration_s * fps))
    t_s = np.arange(n) / fps
    height, width = rgb.shape[:2]
    motion = head_motion(rng, t_s, np.asarray(landmarks_px)[:, :2].mean(axis=0))
    gain = 1.0 + smooth_wander(rng, t_s, FLICKER_DEPTH) + rng.normal(0.0, FLICKER_DEPTH / 4, n)
    plus, minus = _noise_bank(rng, (height, width), float(rng.uniform(*NOISE_SIGMA_RANGE)))
    picks = rng.integers(0, _NOISE_BANK, n)
    offsets = rng.integers(0, _NOISE_MARGIN_PX + 1, (n, 2))
    droop = schedule.droop_mm(t_s)
    face, face_mm = rgb, 0.0
    for i in range(n):
        if droop[i] != face_mm:  # a constant droop is warped once
            face_mm = float(droop[i])
            face = rgb if face_mm <= 0 else droop_in_window(rgb, landmarks_px, schedule.side,
                                                            face_mm)  # fmt: skip
        frame = cv2.warpAffine(
            face, motion[i], (width, height), flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REFLECT_101,
        )  # fmt: skip
        frame = cv2.convertScaleAbs(frame, alpha=float(gain[i]))
        oy, ox = offsets[i]
        k = picks[i]
        frame = cv2.add(frame, plus[k, oy : oy + height, ox : ox + width])
        yield cv2.subtract(frame, minus[k, oy : oy + height, ox : ox + width])


def _even_crop(rgb: np.ndarray) -> np.ndarray:
    """Drop a last odd row/column: codecs want even frame sizes (landmarks are unchanged)."""
    height, width = rgb.shape[:2]
    return np.ascontiguousarray(rgb[: height - height % 2, : width - width % 2])


def build_still_clips(
    out_dir: Path,
    seed: int = 7,
    stills: Sequence[str] = STILL_FILES,
    fps: float = STILL_FPS,
    duration_s: float = STILL_DURATION_S,
) -> list[dict[str, object]]:
    """Write the three clips of each still under `out_dir`; returns their labels rows."""
    unknown = [s for s in stills if s not in dict(STILL_SUBJECTS)]
    if unknown:
        raise ValueError(f"unknown stills {unknown}; choose from {list(STILL_FILES)}")
    rows = []
    with create_landmarker(resolve_model()) as landmarker:
        for still in stills:
            rgb = _even_crop(load_image_rgb(sample_path(still), max_side=MAX_SIDE_PX))
            landmarks = detect_landmarks_px(landmarker, rgb, still)
            height, width = rgb.shape[:2]
            for clip, schedule in enumerate(still_schedules(seed, still), start=1):
                frames = render_still_clip(
                    rgb, landmarks, schedule, _clip_rng(seed, still, clip), fps, duration_s
                )
                _write_video_if_changed(out_dir / schedule.file, frames, fps, (width, height))
                rows.append(
                    {"file": schedule.file, "label": int(schedule.max_droop_mm > 0),
                     "subject_id": dict(STILL_SUBJECTS)[still], "source_file": still,
                     "kind": schedule.kind, "side": schedule.side, "onset_s": schedule.onset_s,
                     "growth_mm_per_s": schedule.growth_mm_per_s,
                     "max_droop_mm": schedule.max_droop_mm, "fps": fps,
                     "duration_s": max(1, round(duration_s * fps)) / fps}
                )  # fmt: skip
    return rows


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
    stills: Sequence[str] | None = STILL_FILES,
    still_duration_s: float = STILL_DURATION_S,
) -> pl.DataFrame:
    """Write the demo videos under `out_dir` and return their labels table.

    The clips from `single_face.mp4` contain no random element (the droop schedule and the
    source frames fix them); `seed` draws the still clips' droops, motion and noise.
    `stills=None` (or empty) leaves the still clips out.
    """
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

    if stills:
        rows += build_still_clips(out_dir, seed, stills, STILL_FPS, still_duration_s)

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
