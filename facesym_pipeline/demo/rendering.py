"""What a renderer of an injected asymmetry returns, and how it refuses.

A renderer is `(rgb, landmarks_px, side, size_mm) -> Rendering`: `landmarks_px` are the
source face's (478, 3) MediaPipe landmarks in pixels (x * width, y * height, z * width),
`side` the subject's side that gets the asymmetry. Besides the image it returns the exact
forward displacement of the content at any point of the source, so the ground truth can be
read where the measure reads it (a refined mouth corner or lid margin is not exactly at
the landmark the injection was sized on).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


class NotRenderable(ValueError):
    """The face cannot take this injection honestly (the warp would fold, the lid would
    cross the pupil): the variant is left out and counted, never rendered approximately."""


@dataclass(frozen=True)
class Rendering:
    image: np.ndarray
    # (n, 2) source pixel positions -> (n, 2) displacement (px) of the content there.
    displacement_px: Callable[[np.ndarray], np.ndarray]


Renderer = Callable[[np.ndarray, np.ndarray, str, float], Rendering]


def raised_cosine(phase: np.ndarray) -> np.ndarray:
    """1 at phase 0, falling smoothly to 0 at phase 1 (and beyond): the taper every renderer
    uses so that the skin it moves has no edge."""
    return 0.5 * (1 + np.cos(np.pi * np.clip(phase, 0.0, 1.0)))


def identity_maps(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """`cv2.remap` maps that leave every pixel where it is (float32 x and y)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return xs, ys
