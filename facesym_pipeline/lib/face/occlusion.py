"""How much of the face a hand covers, from the same decoded frame as the face landmarks.

MediaPipe's Tasks HandLandmarker (palm detector + hand-landmark network, the bundle from
`landmarker_bundle.HAND_BUNDLE`) runs on two square crops around the face. Each hand found
is drawn as a silhouette (palm polygon + thick finger bones) on a small raster of the face
box, and the score is the fraction of the face oval (MediaPipe's FACE_OVAL contour) under
a hand. Only a number leaves this module, never pixels.

Why these settings (evaluated on a labelled real video and on 158 portraits without hands,
none fitted to them):
* crops, not the full frame: on the whole frame at MediaPipe's defaults the palm detector
  finds 1 hand frame in 7; a crop around the face makes the hand large enough;
* two crops (1.5x and 2.5x the face box): one crop finds half the hand frames;
* a low palm-candidate threshold (0.05) with the hand-landmark network's own presence
  score at MediaPipe's default (0.5) as the gate: a flat hand on a face gets low palm
  scores, and the presence score is what rejects false palms.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from facesym_pipeline.lib.face.native_log import QuietNative, native_logs_to

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
    377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Hand landmark indices: palm polygon and finger bones.
_PALM = (0, 1, 5, 9, 13, 17)
_BONES = np.array(
    [
        (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10),
        (10, 11), (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (17, 18),
        (18, 19), (19, 20), (0, 17),
    ]
)  # fmt: skip
_GRID_CELLS = 96  # face-box raster side; coverage is a fraction, so this only sets precision
_SUBPIXEL_BITS = 4  # OpenCV drawing with fractional coordinates
_FINGER_WIDTH_OF_PALM = 0.45  # finger thickness relative to the palm width (index-to-little)


@dataclass(frozen=True)
class HandSettings:
    crop_scales: tuple[float, ...] = (1.5, 2.5)  # square crop side / face-box side
    crop_shift_down: float = 0.1  # of the face-box side: hands come from below
    min_detection: float = 0.05  # palm detector score (candidates only)
    min_presence: float = 0.5  # hand-landmark network's "a hand is here" score


class HandCover:
    """`(rgb, face_landmarks_px) -> fraction of the face oval under a hand (0..1)`.

    Holds one IMAGE-mode HandLandmarker: create one per worker and close it."""

    def __init__(
        self,
        bundle: str | Path,
        settings: HandSettings = HandSettings(),
        native_log: str | Path | None = None,
    ):
        """`native_log`: where MediaPipe's native log lines go (`lib.face.native_log`)."""
        from mediapipe.tasks.python import BaseOptions, vision

        self.settings = settings
        with native_logs_to(native_log) as log_path:
            landmarker = vision.HandLandmarker.create_from_options(
                vision.HandLandmarkerOptions(
                    base_options=BaseOptions(model_asset_path=str(bundle)),
                    running_mode=vision.RunningMode.IMAGE,
                    num_hands=2,
                    min_hand_detection_confidence=settings.min_detection,
                    min_hand_presence_confidence=settings.min_presence,
                )
            )
        self._landmarker = QuietNative(landmarker, log_path)

    def close(self) -> None:
        self._landmarker.close()

    def hands_px(self, rgb: np.ndarray, face_px: np.ndarray) -> list[np.ndarray]:
        """(21, 2) pixel landmarks of every hand found in the face crops. A hand found in
        both crops is drawn twice, which is harmless: the cover is a union."""
        import mediapipe as mp

        x0, y0 = face_px[:, :2].min(axis=0)
        x1, y1 = face_px[:, :2].max(axis=0)
        side = max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + self.settings.crop_shift_down * side
        found = []
        for scale in self.settings.crop_scales:
            crop, ox, oy = _square_crop(rgb, cx, cy, scale * side)
            image = mp.Image(image_format=mp.ImageFormat.SRGB, data=crop)
            n = crop.shape[0]
            for hand in self._landmarker.detect(image).hand_landmarks:
                xy = np.array([(p.x, p.y) for p in hand], dtype=np.float32)
                found.append(xy * n + (ox, oy))
        return found

    def __call__(self, rgb: np.ndarray, face_px: np.ndarray) -> float:
        hands = self.hands_px(rgb, face_px)
        return hand_cover_fraction(face_px, hands) if hands else 0.0


def hand_cover_fraction(face_px: np.ndarray, hands_px: list[np.ndarray]) -> float:
    """Fraction of the face oval covered by the union of the hands' silhouettes."""
    origin = face_px[:, :2].min(axis=0)
    side = max(float(np.ptp(face_px[:, 0])), float(np.ptp(face_px[:, 1])), 1e-6)
    cells_per_px = _GRID_CELLS / side

    def grid(points: np.ndarray) -> np.ndarray:
        fixed = (points[..., :2] - origin) * cells_per_px * (1 << _SUBPIXEL_BITS)
        return np.round(fixed).astype(np.int32)

    face = np.zeros((_GRID_CELLS, _GRID_CELLS), np.uint8)
    cv2.fillPoly(face, [grid(face_px[list(FACE_OVAL)])], 1, cv2.LINE_8, shift=_SUBPIXEL_BITS)
    cover = np.zeros_like(face)
    for hand in hands_px:
        points = grid(hand)
        palm_width_px = float(np.linalg.norm(hand[5] - hand[17]))
        thickness = max(1, round(_FINGER_WIDTH_OF_PALM * palm_width_px * cells_per_px))
        cv2.fillPoly(cover, [points[list(_PALM)]], 1, cv2.LINE_8, shift=_SUBPIXEL_BITS)
        for a, b in _BONES:
            cv2.line(cover, tuple(points[a]), tuple(points[b]), 1, thickness, cv2.LINE_8,
                     shift=_SUBPIXEL_BITS)  # fmt: skip
    return float((cover & face).sum() / max(int(face.sum()), 1))


def _square_crop(rgb: np.ndarray, cx: float, cy: float, side: float):
    """Square crop centred on (cx, cy), black where it leaves the frame, and its top-left
    corner in frame pixels."""
    height, width = rgb.shape[:2]
    side = max(round(side), 8)
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    out = np.zeros((side, side, 3), np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = rgb[sy0:sy1, sx0:sx1]
    return out, x0, y0
