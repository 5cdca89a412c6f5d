"""Sub-pixel refinement of the mouth corners and the eyelid margins from the image pixels.

MediaPipe's mesh is a regularised shape model: when one mouth corner or one eyelid moves on
its own, its landmarks follow only part of the way (about three quarters for a corner,
about half for an upper lid). The image itself shows where these features are, so each
point is re-located in a small crop sampled along the face's own axes ("across" = the iris
line, "down" = perpendicular to it, towards the chin) around the landmark:

- mouth corner: the lip gap is a dark valley running across the face; per column of the
  crop the valley's row is found (sub-pixel), the valley is followed outwards from inside
  the mouth, and the corner is where its depth fades out;
- lid margins: along the vertical through the lid centre (averaged over a band a little
  wider than the pupil, with corneal highlights removed) the upper margin is the
  strongest bright-to-dark step going down (skin to lash line and eye), the lower margin
  the strongest dark-to-bright step (eye to lower lid skin). The upper edge found is the
  top of the lash line, so absolute lid heights read ~1-2 mm higher than MediaPipe's;
  left-right differences are unaffected.

Crop sizes are multiples of the iris diameter, so the search behaves the same at any
image resolution. A point whose evidence is weak keeps its landmark position.
"""

from __future__ import annotations

import cv2
import numpy as np

from facesym_pipeline.lib.face.geometry import face_axes, iris_diameter_px
from facesym_pipeline.lib.face.mesh import (
    LEFT_LOWER_LID,
    LEFT_MOUTH_CORNER,
    LEFT_UPPER_LID,
    LOWER_LIP_INNER,
    RIGHT_LOWER_LID,
    RIGHT_MOUTH_CORNER,
    RIGHT_UPPER_LID,
    UPPER_LIP_INNER,
)

MOUTH_CORNERS = (RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER)
INNER_LIP_CENTRE = (UPPER_LIP_INNER, LOWER_LIP_INNER)
# (upper, lower) lid centre points of the subject's right and left eye.
LIDS = ((RIGHT_UPPER_LID, RIGHT_LOWER_LID), (LEFT_UPPER_LID, LEFT_LOWER_LID))
# The points refined, in the column order of the landmark table's `refined_xy`.
REFINED_POINTS = (*MOUTH_CORNERS, *LIDS[0], *LIDS[1])


def _bilinear_crop(
    gray: np.ndarray, origin: np.ndarray, u_axis: np.ndarray, v_axis: np.ndarray,
    us: np.ndarray, vs: np.ndarray,
) -> np.ndarray:  # fmt: skip
    """Image sampled at origin + u*u_axis + v*v_axis on the grid (len(vs), len(us))."""
    grid_u, grid_v = np.meshgrid(us, vs)
    map_x = (origin[0] + grid_u * u_axis[0] + grid_v * v_axis[0]).astype(np.float32)
    map_y = (origin[1] + grid_u * u_axis[1] + grid_v * v_axis[1]).astype(np.float32)
    return cv2.remap(gray, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _parabolic_offset(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Sub-sample offset (-0.5..0.5) of the extremum of a parabola through three samples."""
    denom = left - 2 * centre + right
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(np.abs(denom) > 1e-9, 0.5 * (left - right) / denom, 0.0)
    return np.clip(offset, -0.5, 0.5)


class _Face:
    """Face axes and scale in pixels from one frame's landmarks."""

    def __init__(self, points_px: np.ndarray):
        self.points = points_px
        self.across, self.down = face_axes(points_px)
        self.iris_px = float(iris_diameter_px(points_px))


def _gray_roi(rgb: np.ndarray, corners: np.ndarray, blur_px: float):
    """Grey float32 crop of the bounding box of `corners` (plus margin), lightly blurred,
    and its top-left offset."""
    height, width = rgb.shape[:2]
    margin = 3 + 3 * blur_px
    x0 = int(max(np.floor(corners[:, 0].min() - margin), 0))
    y0 = int(max(np.floor(corners[:, 1].min() - margin), 0))
    x1 = int(min(np.ceil(corners[:, 0].max() + margin) + 1, width))
    y1 = int(min(np.ceil(corners[:, 1].max() + margin) + 1, height))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None, None
    roi = rgb[y0:y1, x0:x1]
    gray = cv2.cvtColor(roi, cv2.COLOR_RGB2GRAY) if roi.ndim == 3 else roi
    gray = gray.astype(np.float32)
    if blur_px > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), blur_px)
    return gray, np.array([x0, y0], dtype=np.float64)


# Mouth-corner crop, in units of the half mouth width (u, outwards from the corner
# landmark) and of the iris diameter (v, down the face from it).
CORNER_U_RANGE = (-0.45, 0.25)
CORNER_V_HALF = 0.6
CORNER_COLUMNS = 36
CORNER_ROWS = 41
CORNER_REFERENCE_U = (-0.45, -0.15)  # columns whose valley depth sets the reference
CORNER_END_FRACTION = 0.4  # the valley ends where its depth falls below this share
CORNER_MIN_DEPTH = 4.0  # grey levels: weaker valleys are not trusted
CORNER_FIT_COLUMNS = 8  # valley rows fitted by a line just inside the evaluation column
CORNER_DEPTH_REACH = 0.5  # iris diameters above/below the valley that set its depth
CORNER_MAX_SLOPE = 1.0  # valley rows may change by at most this much per unit of u


def _valley_path(crop: np.ndarray, max_step: int, step_penalty: float) -> np.ndarray:
    """Row index per column of the darkest connected path across `crop` (rows, cols):
    a shortest path in which the row changes by at most `max_step` between columns."""
    n_rows, n_cols = crop.shape
    cost = crop[:, 0].astype(np.float64).copy()
    back = np.zeros((n_rows, n_cols), dtype=np.int64)
    rows = np.arange(n_rows)
    for col in range(1, n_cols):
        best = np.full(n_rows, np.inf)
        arg = rows.copy()
        for step in range(-max_step, max_step + 1):
            src = rows + step
            valid = (src >= 0) & (src < n_rows)
            cand = np.full(n_rows, np.inf)
            cand[valid] = cost[src[valid]] + step_penalty * abs(step)
            better = cand < best
            best[better] = cand[better]
            arg[better] = src[better]
        cost = best + crop[:, col]
        back[:, col] = arg
    path = np.empty(n_cols, dtype=np.int64)
    path[-1] = int(np.argmin(cost))
    for col in range(n_cols - 1, 0, -1):
        path[col - 1] = back[path[col], col]
    return path


def refine_mouth_corner(
    gray: np.ndarray, offset: np.ndarray, face: _Face, corner: int, debug: dict | None = None
) -> np.ndarray | None:
    """Pixel position of the end of the lip-gap valley at `corner`, or None when the
    valley is too faint. `gray` is a blurred grey crop whose top-left pixel is `offset`;
    `debug`, if given, receives the intermediate arrays."""
    pts = face.points
    c = pts[corner]
    centre = pts[list(INNER_LIP_CENTRE)].mean(axis=0)
    lateral = float(np.dot(c - centre, face.across))
    half_width = abs(lateral)
    if half_width < 2.0:
        return None
    out = face.across * np.sign(lateral)
    us = np.linspace(*CORNER_U_RANGE, CORNER_COLUMNS) * half_width
    vs = np.linspace(-CORNER_V_HALF, CORNER_V_HALF, CORNER_ROWS) * face.iris_px
    crop = _bilinear_crop(gray, c - offset, out, face.down, us, vs).astype(np.float64)
    # Smooth along the valley (columns), never across it.
    crop = cv2.GaussianBlur(crop, (0, 0), sigmaX=1.0, sigmaY=0.01)
    du, dv = us[1] - us[0], vs[1] - vs[0]
    max_step = max(1, int(np.ceil(CORNER_MAX_SLOPE * du / dv)))
    contrast = max(float(np.ptp(crop)), 1.0)
    path = _valley_path(crop / contrast, max_step, step_penalty=0.02)
    cols = np.arange(len(us))
    # Depth: how much darker the valley is than the brightest point on each side of it
    # within a quarter iris.
    reach = max(2, int(round(CORNER_DEPTH_REACH * face.iris_px / dv)))
    padded = np.pad(crop, ((reach, reach), (0, 0)), mode="edge")
    above = np.stack([padded[path + reach - k, cols] for k in range(1, reach + 1)]).max(0)
    below = np.stack([padded[path + reach + k, cols] for k in range(1, reach + 1)]).max(0)
    valley = crop[path, cols]
    depth = np.minimum(above, below) - valley
    ref_cols = (us >= CORNER_REFERENCE_U[0] * half_width) & (
        us <= CORNER_REFERENCE_U[1] * half_width
    )
    # The deepest inner column: an open mouth or bright teeth leave some inner columns
    # without a valley, but the wedge between the lips is deep just inside the corner.
    ref = float(np.max(depth[ref_cols]))
    # Sub-row valley position.
    inner = np.clip(path, 1, len(vs) - 2)
    rows = inner + _parabolic_offset(
        crop[inner - 1, cols], crop[inner, cols], crop[inner + 1, cols]
    )
    v_path = vs[0] + rows * dv
    if debug is not None:
        debug.update(us=us, vs=vs, crop=crop, path=path, depth=depth, ref=ref, v_path=v_path)
    if ref < CORNER_MIN_DEPTH:
        return None
    start = int(np.argmax(us > CORNER_REFERENCE_U[1] * half_width))
    level = CORNER_END_FRACTION * ref
    faded = np.flatnonzero(depth[start:] < level)
    if len(faded) and start + int(faded[0]) > 0:
        end = start + int(faded[0])
        # Linear interpolation of the depth crossing between columns end-1 and end.
        d0, d1 = depth[end - 1], depth[end]
        frac = (d0 - level) / max(d0 - d1, 1e-9)
        u_end = us[end - 1] + np.clip(frac, 0, 1) * du
    else:
        u_end = us[-1]
    # The valley's row at the corner from a line through its last columns: steadier than
    # the single column where it fades out.
    fit = (us <= u_end) & (us > u_end - CORNER_FIT_COLUMNS * du)
    if fit.sum() >= 3:
        slope, intercept = np.polyfit(us[fit], v_path[fit], 1)
        v_end = slope * u_end + intercept
    else:
        v_end = float(np.interp(u_end, us, v_path))
    if debug is not None:
        debug.update(u_eval=u_end, v_eval=v_end)
    return c + u_end * out + v_end * face.down


LID_BAND_HALF = 0.3  # iris diameters either side of the lid centre averaged into the profile
LID_COLUMNS = 13
LID_HIGHLIGHT_SIZE = 0.25  # iris diameters: bright spots narrower than this are removed
LID_STEP = 1.0 / 40  # profile sample spacing, iris diameters
LID_SEARCH = 0.3  # iris diameters either side of a lid landmark searched for its margin
LID_MIN_STEP = 2.0  # grey levels per pixel: weaker margins are not trusted


def refine_lids(
    gray: np.ndarray, offset: np.ndarray, face: _Face, upper: int, lower: int,
    debug: dict | None = None,
) -> tuple[np.ndarray | None, np.ndarray | None]:  # fmt: skip
    """Pixel positions of the upper and lower lid margins on the vertical through the
    lid centre (None where the step is too weak). The upper one is the skin/lash-line
    edge, which sits at or slightly above the margin MediaPipe marks."""
    pts = face.points
    top, bottom = pts[upper], pts[lower]
    origin = 0.5 * (top + bottom)
    v_top = float(np.dot(top - origin, face.down))
    v_bottom = float(np.dot(bottom - origin, face.down))
    iris = face.iris_px
    step = LID_STEP * iris
    vs = np.arange(
        v_top - LID_SEARCH * iris - 2 * step, v_bottom + LID_SEARCH * iris + 2 * step, step
    )
    us = np.linspace(-LID_BAND_HALF, LID_BAND_HALF, LID_COLUMNS) * iris
    # A grey opening removes corneal highlights: small bright spots whose edges would
    # otherwise outcompete the lid margin.
    size = max(3, int(round(LID_HIGHLIGHT_SIZE * iris)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    gray = cv2.morphologyEx(gray, cv2.MORPH_OPEN, kernel)
    crop = _bilinear_crop(gray, origin - offset, face.across, face.down, us, vs)
    profile = crop.astype(np.float64).mean(axis=1)
    grad = np.gradient(profile) / step  # grey levels per pixel, + = brighter going down
    mid = 0.5 * (v_top + v_bottom)
    results = []
    for v_lm, sign in ((v_top, -1.0), (v_bottom, 1.0)):
        lo, hi = v_lm - LID_SEARCH * iris, v_lm + LID_SEARCH * iris
        lo, hi = (lo, min(hi, mid)) if sign < 0 else (max(lo, mid), hi)
        window = np.flatnonzero((vs >= lo) & (vs <= hi))
        window = window[(window > 0) & (window < len(vs) - 1)]
        if len(window) < 3:
            results.append(None)
            continue
        signed = sign * grad
        k = int(window[np.argmax(signed[window])])
        if signed[k] < LID_MIN_STEP:
            results.append(None)
            continue
        v = vs[k] + _parabolic_offset(signed[k - 1], signed[k], signed[k + 1]) * step
        results.append(
            origin
            + v * face.down
            + float(np.dot(pts[upper if sign < 0 else lower] - origin, face.across)) * face.across
        )
    if debug is not None:
        debug.update(vs=vs, profile=profile, grad=grad, v_top=v_top, v_bottom=v_bottom)
    return results[0], results[1]


def refine_points(rgb: np.ndarray, landmarks: np.ndarray) -> dict[int, np.ndarray]:
    """Refined pixel positions (x, y) of the mouth corners (61, 291) and the lid-margin
    centre points (159, 145, 386, 374) of one frame.

    `landmarks` are that frame's (478, 3) MediaPipe landmarks (x, y normalised to the frame);
    a point that cannot be refined confidently keeps its landmark's pixel position.
    """
    height, width = rgb.shape[:2]
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2] * (width, height)
    out = {i: pts[i].copy() for i in REFINED_POINTS}
    face = _Face(pts)
    blur = max(0.5, face.iris_px / 40)
    for corner in MOUTH_CORNERS:
        half_width = abs(
            float(np.dot(pts[corner] - pts[list(INNER_LIP_CENTRE)].mean(0), face.across))
        )
        reach = 0.5 * half_width + 0.5 * face.iris_px
        box = np.vstack([pts[corner] - reach, pts[corner] + reach])
        gray, offset = _gray_roi(rgb, box, blur)
        if gray is None:
            continue
        point = refine_mouth_corner(gray, offset, face, corner)
        if point is not None:
            out[corner] = point
    for upper, lower in LIDS:
        reach = 0.6 * face.iris_px
        box = np.vstack([pts[[upper, lower]] - reach, pts[[upper, lower]] + reach])
        gray, offset = _gray_roi(rgb, box, blur)
        if gray is None:
            continue
        top, bottom = refine_lids(gray, offset, face, upper, lower)
        if top is not None:
            out[upper] = top
        if bottom is not None:
            out[lower] = bottom
    return out
