"""Upper-lid ptosis as a smooth displacement of the lid: the second ptosis renderer,
independent of `warp.apply_ptosis` (which paints a shifted lid layer over the eye), so
calibration can tell the instrument's errors from one renderer's.

In the eye's frame (s across the face, t down it, origin at the upper-lid centre landmark)
the content moves down by `D(s) * v(s, t)`:

* `D(s) = d * raised cosine` between the canthi: the whole size at the lid centre, nothing
  at the corners;
* above the margin, `v = 1` on a lash band of `LASH_BAND_IRIS` iris diameters, then a
  raised-cosine taper to 0 over `BROW_TAPER_EYE_WIDTHS` eye widths towards the brow;
* below the margin, `v` falls linearly to 0 at a curve parallel to the margin through the
  iris centre: lid skin, lashes and the upper iris are compressed; the iris centre, the
  lower iris and the lower lid stay put.

No lid is painted and nothing is hidden, so the margin stays the same edge it was, only
lower. The map is monotone along t as long as `d < margin-to-iris-centre distance`; a
request beyond `MAX_COMPRESSION` of that distance is refused (`NotRenderable`): the iris
would be squeezed to a sliver. The image is the exact inverse of the map per pixel
(closed form in the compression zone, fixed point above the margin).
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator

from facesym_pipeline.demo import warp
from facesym_pipeline.demo.rendering import NotRenderable, Rendering, identity_maps, raised_cosine

LASH_BAND_IRIS = 0.15  # iris diameters above the margin that move rigidly
BROW_TAPER_EYE_WIDTHS = 0.40  # above the lash band the shift fades to 0 over this
MAX_COMPRESSION = 0.90  # d at most this share of the margin-to-iris-centre distance
_FIXED_POINT_ITERATIONS = 30  # above the margin the slope is <= pi/2 * d / taper: small


class LidShift:
    """The lid displacement of one eye in its (s, t) frame, forward and inverse."""

    def __init__(self, landmarks_px: np.ndarray, side: str, ptosis_mm: float):
        side = warp._check_side(side)
        pts = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
        mm_per_px = warp.mm_per_px_from_landmarks(pts)
        iris_px = warp.iris_diameter_px(pts)
        self.across, self.down = warp.face_axes(pts)
        self.origin = pts[warp.UPPER_LID[side]].copy()
        s, t = self.st(*pts[list(warp.UPPER_LID_MARGIN[side])].T)
        order = np.argsort(s)
        s, t = s[order], t[order]
        if s[0] >= 0 or s[-1] <= 0 or np.any(np.diff(s) <= 0):
            raise NotRenderable(
                f"lid_margin_shift: {side} upper-lid landmarks do not run corner to corner"
            )
        self.s_lo, self.s_hi = float(s[0]), float(s[-1])
        self.margin = PchipInterpolator(s, t)
        self.d = float(ptosis_mm) / mm_per_px
        # Margin (at the lid centre) to iris centre, along the face's vertical.
        self.l0 = float(np.dot(pts[warp.IRIS_CENTRE[side]] - self.origin, self.down))
        if self.l0 <= 0 or self.d > MAX_COMPRESSION * self.l0:
            raise NotRenderable(
                f"lid_margin_shift: {ptosis_mm:g} mm exceeds {MAX_COMPRESSION:.0%} of the {side} "
                f"eye's margin-to-iris-centre distance ({self.l0 * mm_per_px:.2f} mm)"
            )
        self.band = LASH_BAND_IRIS * iris_px
        corner_a, corner_b = (pts[i] for i in warp.EYE_CORNERS[side])
        self.taper = BROW_TAPER_EYE_WIDTHS * float(np.linalg.norm(corner_b - corner_a))

    def st(self, x, y) -> tuple[np.ndarray, np.ndarray]:
        rx, ry = np.asarray(x) - self.origin[0], np.asarray(y) - self.origin[1]
        return rx * self.across[0] + ry * self.across[1], rx * self.down[0] + ry * self.down[1]

    def _shift_and_margin(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """D(s) (px) and the margin's t at s."""
        lateral = np.where(s < 0, s / self.s_lo, s / self.s_hi)  # 0 at the centre, 1 at a corner
        weight = np.where(lateral < 1, raised_cosine(lateral), 0.0)
        return self.d * weight, self.margin(np.clip(s, self.s_lo, self.s_hi))

    def _above(self, height: np.ndarray) -> np.ndarray:
        """v above the margin (height >= 0 px above it)."""
        return raised_cosine((height - self.band) / self.taper)

    def amount(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Forward displacement (px along down) of the content at (s, t)."""
        shift, margin = self._shift_and_margin(s)
        height = margin - t
        below = np.clip(1 + height / self.l0, 0.0, 1.0)
        return shift * np.where(height >= 0, self._above(height), below)

    def source_t(self, s: np.ndarray, t_dst: np.ndarray) -> np.ndarray:
        """t of the content that lands on (s, t_dst). The forward map is monotone in t
        (slope >= 1 - d / l0 > 0), so exactly one of the zone solutions is consistent."""
        shift, margin = self._shift_and_margin(s)
        # Compression zone (margin .. margin + l0): t + D (1 - (t - m) / l0) = t_dst.
        t_lin = (t_dst - shift * (1 + margin / self.l0)) / (1 - shift / self.l0)
        in_compression = (t_lin >= margin) & (t_lin <= margin + self.l0)
        t_up = t_dst - shift
        for _ in range(_FIXED_POINT_ITERATIONS):
            t_up = t_dst - shift * self._above(margin - t_up)
        above = t_up <= margin
        return np.where(in_compression, t_lin, np.where(above, t_up, t_dst))

    def box(self, shape_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) pixel box outside which nothing moves: canthus to canthus, from
        the top of the brow taper to below the iris centre."""
        s = np.linspace(self.s_lo, self.s_hi, 41)
        margin = self.margin(s)
        corners = [
            self.origin + si * self.across + ti * self.down
            for si, mi in zip(s, margin, strict=True)
            for ti in (mi - self.band - self.taper, mi + self.l0 + self.d)
        ]
        corners = np.array(corners)
        height, width = int(shape_hw[0]), int(shape_hw[1])
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 2, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 2, (width - 1, height - 1))
        return int(x0), int(y0), int(x1), int(y1)

    def displacement_px(self, points_xy: np.ndarray) -> np.ndarray:
        points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        s, t = self.st(points[:, 0], points[:, 1])
        return self.amount(s, t)[:, None] * self.down[None, :]


def lid_margin_shift_ptosis(
    rgb: np.ndarray, landmarks_px: np.ndarray, side: str, ptosis_mm: float
) -> Rendering:
    """A `ptosis_mm` ptosis of the subject's `side` upper lid by `LidShift`."""
    model = LidShift(landmarks_px, side, ptosis_mm)
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = model.box((height, width))
    ys, xs = np.mgrid[y0 : y1 + 1, x0 : x1 + 1].astype(np.float64)
    s, t = model.st(xs, ys)
    # Only t changes: the content at (s, t_src) lands on (s, t).
    shift = t - model.source_t(s, t)
    map_x, map_y = identity_maps(height, width)
    map_x[y0 : y1 + 1, x0 : x1 + 1] = (xs - shift * model.down[0]).astype(np.float32)
    map_y[y0 : y1 + 1, x0 : x1 + 1] = (ys - shift * model.down[1]).astype(np.float32)
    image = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return Rendering(image, model.displacement_px)
