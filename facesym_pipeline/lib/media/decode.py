"""Opening image and video files safely: kind by content, a specific reason for every
file that cannot be analysed, bounded memory for huge inputs, EXIF orientation applied."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facesym_pipeline.lib.store.hashing import phash

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
VIDEO_EXTS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
IGNORED_NAMES = frozenset({"labels.csv", "readme.md", "readme.txt", ".ds_store", "thumbs.db"})
# Decoded frames are downscaled so the long side is at most this; the landmarker works on
# 256-px crops internally, so more pixels only cost memory.
MAX_ANALYSIS_SIDE_PX = 1280
# Above this many pixels a non-JPEG is refused rather than decoded in full (a JPEG is
# decoded at a reduced DCT scale instead, which keeps memory bounded).
MAX_DECODE_PIXELS = 60_000_000
MIN_SIDE_PX = 32
# FFmpeg decodes a video in this many threads. One: the landmark pass already decodes in a
# thread of its own, overlapped with inference, and runs one process per core; a second
# decoder thread per video only competes for the same cores (and costs ~10% more CPU).
# Decoding is bit-exact whatever the thread count.
VIDEO_DECODER_THREADS = 1

Image.MAX_IMAGE_PIXELS = None  # we enforce our own limit before decoding


class MediaError(Exception):
    """A file that cannot be analysed; `reason` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class MediaProbe:
    kind: str  # image | video
    width: int
    height: int
    fps: float | None
    n_frames: int
    duration_s: float | None
    phash: str | None = None  # perceptual hash (hex) of a still, for near-duplicate groups


def media_kind_from_extension(path: Path) -> str | None:
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS:
        return "image"
    if ext in VIDEO_EXTS:
        return "video"
    return None


def probe(path: Path) -> MediaProbe:
    """Cheap header-level check of a file; raises MediaError with the reason it is unusable."""
    kind = media_kind_from_extension(path)
    if kind is None:
        raise MediaError("unsupported_extension", path.suffix or "(none)")
    size = path.stat().st_size
    if size == 0:
        raise MediaError("empty_file")
    return _probe_image(path) if kind == "image" else _probe_video(path)


def _probe_image(path: Path) -> MediaProbe:
    try:
        digest = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                width, height = img.size
                fmt = img.format
                if width * height <= MAX_DECODE_PIXELS or fmt == "JPEG":
                    # A full decode (at 1/8 scale for JPEG) is the only reliable way to
                    # find truncated data; verify() misses it.
                    img.draft("RGB", (max(width // 8, 1), max(height // 8, 1)))
                    img.load()
                    digest = f"{phash(ImageOps.exif_transpose(img)):016x}"
    except UnidentifiedImageError as exc:
        raise MediaError("not_an_image", "content is not a recognised image format") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError("corrupt_image", str(exc)[:200]) from exc
    if min(width, height) < MIN_SIDE_PX:
        raise MediaError("image_too_small", f"{width}x{height} px, need at least {MIN_SIDE_PX} px")
    if width * height > MAX_DECODE_PIXELS and fmt != "JPEG":
        raise MediaError(
            "image_too_large", f"{width}x{height} px {fmt}; limit {MAX_DECODE_PIXELS} px"
        )
    return MediaProbe("image", width, height, None, 1, None, digest)


def _probe_video(path: Path) -> MediaProbe:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError("unreadable_video", "no decoder could open the container")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        ok, frame = cap.read()
        if not ok or frame is None:
            raise MediaError("no_decodable_frames", "the first frame could not be decoded")
        height, width = frame.shape[:2]
    finally:
        cap.release()
    if not (0.5 <= fps <= 480):
        raise MediaError("bad_frame_rate", f"container reports {fps:.3g} fps")
    n_frames = max(n_frames, 1)
    return MediaProbe("video", width, height, fps, n_frames, n_frames / fps)


def load_image_rgb(path: Path, max_side: int = MAX_ANALYSIS_SIDE_PX) -> np.ndarray:
    """Decode an image to contiguous uint8 RGB with EXIF orientation applied.

    Alpha is composited on mid-grey, grayscale and CMYK are converted, 16-bit is scaled.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as img:
                if img.format == "JPEG":
                    # DCT-domain downscale: a 12000x12000 JPEG never materialises in full.
                    img.draft("RGB", (max_side, max_side))
                img = ImageOps.exif_transpose(img)
                img = _to_rgb(img)
                img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
                arr = np.asarray(img, dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError("corrupt_image", str(exc)[:200]) from exc
    return np.ascontiguousarray(arr)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in {"I;16", "I;16B", "I;16L", "I"}:
        arr = np.asarray(img, dtype=np.float64)
        peak = arr.max() or 1.0
        img = Image.fromarray((arr * (255.0 / peak)).clip(0, 255).astype(np.uint8), "L")
    if img.mode in {"RGBA", "LA", "PA"} or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def iter_video_frames(
    path: Path, frame_indices: Iterable[int], max_side: int = MAX_ANALYSIS_SIDE_PX
) -> Iterator[tuple[int, np.ndarray | None]]:
    """Stream the wanted frames of a video, decoding it once from the start.

    Frames in between are only grabbed (`grab()`: demuxed and decoded, as later frames
    depend on them, but never converted to BGR with `retrieve()`), so memory stays at one
    frame whatever the video's length. Yields (index, RGB frame or None if it could not
    be decoded); stops early when the stream ends.
    """
    wanted = sorted(set(int(i) for i in frame_indices))
    if not wanted:
        return
    cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, VIDEO_DECODER_THREADS])
    try:
        if not cap.isOpened():
            for index in wanted:
                yield index, None
            return
        position = 0
        for index in wanted:
            ok = True
            while position < index and ok:
                ok = cap.grab()
                position += 1
            if not ok:
                yield index, None
                continue
            ok, frame = cap.read()
            position += 1
            if not ok or frame is None:
                yield index, None
                continue
            yield index, _bgr_to_rgb_bounded(frame, max_side)
    finally:
        cap.release()


def _bgr_to_rgb_bounded(frame: np.ndarray, max_side: int) -> np.ndarray:
    height, width = frame.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1.0:
        frame = cv2.resize(
            frame, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA
        )
    return np.ascontiguousarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))


def file_is_symlink_outside(path: Path, root: Path) -> bool:
    if not path.is_symlink():
        return False
    target = Path(os.path.realpath(path))
    root = root.resolve()
    return target != root and root not in target.parents
