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
