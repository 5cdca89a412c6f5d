"""Sub-pixel refinement of the mouth corners and the upper-lid margins from the image pixels.

MediaPipe's mesh is a regularised shape model: when one mouth corner or one eyelid moves on
its own, its landmarks follow only part of the way (about three quarters for a corner,
about half for an upper lid). The image itself shows where these features are, so each
point is re-located in a small crop sampled along the face's own axes ("across" = the iris
line, "down" = perpendicular to it, towards the chin):

- mouth corner: the lip gap is a dark valley running across the face; per column of the
  crop the valley's row is found (sub-pixel), the valley is followed outwards from inside
  the mouth, and the corner is where its depth fades out. The result stays within
  `CORNER_MAX_SHIFT` of the landmark along the face's vertical: on real faces the valley
  can jump to a moustache edge, the teeth of an open mouth or a smile crease;
- upper lid: on the vertical through the iris centre (`refine_upper_lid`), the skin-to-
  aperture edge nearest the pupil among the strong ones, with two confidence ratios that
  say whether another edge (crease, liner, spectacle rim) could have been the margin. The
  symmetry features withhold the eye measures when either ratio is high (limits in
  `lib/measure/registry.py`);
- lower lid: MediaPipe's landmark. A ptosis does not move it, and the edge search often
  landed on the lower limbus of the iris instead.

Crop sizes are multiples of the iris diameter, so the search behaves the same at any
image resolution. A point whose evidence is weak keeps its landmark position.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

from facesym_pipeline.lib.face.geometry import face_axes, iris_diameter_px
from facesym_pipeline.lib.face.mesh import (
    LEFT_IRIS_CENTRE,
    LEFT_LOWER_LID,
    LEFT_MOUTH_CORNER,
    LEFT_UPPER_LID,
    LOWER_LIP_INNER,
    RIGHT_IRIS_CENTRE,
    RIGHT_LOWER_LID,
    RIGHT_MOUTH_CORNER,
    RIGHT_UPPER_LID,
    UPPER_LIP_INNER,
)

MOUTH_CORNERS = (RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER)
INNER_LIP_CENTRE = (UPPER_LIP_INNER, LOWER_LIP_INNER)
# (upper, lower) lid centre points of the subject's right and left eye.
LIDS = ((RIGHT_UPPER_LID, RIGHT_LOWER_LID), (LEFT_UPPER_LID, LEFT_LOWER_LID))
IRIS_CENTRES = (RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)
# The landmarks `refine_points` places (the lower lids at their landmark).
REFINED_LANDMARKS = (*MOUTH_CORNERS, *LIDS[0], *LIDS[1])
# Per eye (subject's right, left): the upper-lid margin's (competitor, ambiguity) ratios.
LID_CONFIDENCE = ("lid_confidence_right", "lid_confidence_left")
# Every slot of `refine_points`' result, in the order of the landmark table's `refined_xy`
# (pairs of float32): the landmark pass stores the whole refinement in that one array, so
# the lid confidence travels with the points it qualifies to the symmetry features.
REFINED_POINTS = (*REFINED_LANDMARKS, *LID_CONFIDENCE)


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


def _roi_bounds(shape: tuple[int, ...], corners: np.ndarray, blur_px: float):
    """(x0, y0, x1, y1) of the bounding box of `corners` plus a margin for the blur,
    clipped to the image."""
    height, width = shape[:2]
    margin = 3 + 3 * blur_px
    x0 = int(max(np.floor(corners[:, 0].min() - margin), 0))
    y0 = int(max(np.floor(corners[:, 1].min() - margin), 0))
    x1 = int(min(np.ceil(corners[:, 0].max() + margin) + 1, width))
    y1 = int(min(np.ceil(corners[:, 1].max() + margin) + 1, height))
    return x0, y0, x1, y1


def _gray_roi(rgb: np.ndarray, corners: np.ndarray, blur_px: float):
    """Grey float32 crop of the bounding box of `corners` (plus margin), lightly blurred,
    and its top-left offset."""
    x0, y0, x1, y1 = _roi_bounds(rgb.shape, corners, blur_px)
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
# Iris diameters the refined corner may lie from its landmark along the face's vertical.
# On real faces the few large corner errors were jumps of the valley (moustache edge, teeth
# of an open mouth, smile crease); bounding them cut errors > 2 mm from 13 to 4 on the fit
# people, where narrowing the search window or falling back to the mesh made things worse.
CORNER_MAX_SHIFT = 0.20


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


# Upper-lid margin. Distances in iris diameters, measured from the iris centre along the
# face's vertical (+ = down). The profile is read on the pupil column because that is where
# MRD1 and the fissure are defined, and its window is anchored on the iris centre, which
# MediaPipe places stably, rather than on the lid landmark, which the mesh drags along with
# anything that changes in the face (anchoring on it let a small mesh shift move the window
# across a lid crease or eyeliner).
LID_BAND_HALF = 0.45  # columns either side of the pupil column; their median is the profile
LID_COLUMNS = 20
LID_HIGHLIGHT_SIZE = 0.25  # bright spots narrower than this (corneal glints) are removed
LID_STEP = 1.0 / 40  # profile sample spacing
LID_SMOOTH = 0.03  # Gaussian smoothing of the profile
LID_UPPER_WINDOW = (-0.85, 0.15)  # where the upper margin is searched
# The profile runs on below the window (to the lower lid), so neither the smoothing nor the
# gradient sees the end of the profile inside the window.
LID_PROFILE_BOTTOM = 0.95
LID_REL_STEP = 0.5  # candidate margins: steps at least this share of the window's strongest
LID_MIN_STEP = 2.0  # grey levels per pixel: weaker margins are not trusted
LID_COMPETITOR_SEP = 0.08  # steps further than this from the chosen one compete with it
# The wide band chooses WHICH edge is the margin; a narrow band re-locates it at the pupil
# column within this window (a curved or tilted margin is blurred in the wide median).
LID_RELOCATE_BAND_HALF = 0.15
LID_RELOCATE_COLUMNS = 11
LID_RELOCATE_WINDOW = 0.10
# Skin-contrast channel Y + w (Cr - 128): lid skin is bright and reddish, lashes, iris and
# sclera are dark or not reddish, so the skin-to-aperture edge stands out over a light
# iris or a pale lid where grey alone is flat.
LID_SKIN_CR_WEIGHT = 2.0


@dataclass(frozen=True)
class LidMargin:
    """The upper-lid margin of one eye and how clearly the image shows it.

    competitor: the strongest other edge more than `LID_COMPETITOR_SEP` away, relative to
    the chosen one (>= 1: a crease, liner or spectacle rim as strong as the margin);
    ambiguity: the strongest rejected edge nearer the pupil, relative to the chosen one (a
    weaker edge where the margin might also be). Both are inf when no margin was found."""

    point: np.ndarray | None  # pixel (x, y) on the pupil column, None: keep the landmark
    competitor: float
    ambiguity: float


_NO_MARGIN = LidMargin(None, float("inf"), float("inf"))


def _skin_contrast_roi(rgb: np.ndarray, corners: np.ndarray, blur_px: float):
    """As `_gray_roi`, on the channel Y + w (Cr - 128) clipped to 0..255."""
    if rgb.ndim != 3:
        return _gray_roi(rgb, corners, blur_px)
    x0, y0, x1, y1 = _roi_bounds(rgb.shape, corners, blur_px)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None, None
    ycc = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2YCrCb)
    channel = ycc[..., 0].astype(np.float32) + LID_SKIN_CR_WEIGHT * (
        ycc[..., 1].astype(np.float32) - 128.0
    )
    channel = np.clip(channel, 0, 255).astype(np.float32)
    if blur_px > 0:
        channel = cv2.GaussianBlur(channel, (0, 0), blur_px)
    return channel, np.array([x0, y0], dtype=np.float64)


def _vertical_gradient(
    image: np.ndarray, offset: np.ndarray, face: _Face, centre: np.ndarray,
    v_range: tuple[float, float], band_half: float, n_columns: int,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Positions `vs` (px along the face's down axis from `centre`) and the gradient of the
    median-over-columns profile there (grey levels per px, + = brighter going down). The
    median, not the mean, so lashes and the odd glint left by the opening do not count."""
    iris = face.iris_px
    step = LID_STEP * iris
    vs = np.arange(v_range[0] * iris - 3 * step, v_range[1] * iris + 3 * step, step)
    us = np.linspace(-band_half, band_half, n_columns) * iris
    crop = _bilinear_crop(image, centre - offset, face.across, face.down, us, vs)
    profile = np.median(crop.astype(np.float64), axis=1)
    profile = gaussian_filter1d(profile, max(LID_SMOOTH / LID_STEP, 0.5))
    return vs, np.gradient(profile) / step


def _local_maxima(signed: np.ndarray, vs: np.ndarray, lo_px: float, hi_px: float) -> np.ndarray:
    """Indices of the local maxima of `signed` with vs in [lo_px, hi_px] (ends excluded,
    so every maximum has both neighbours for the sub-sample fit)."""
    inner = np.arange(1, len(vs) - 1)
    inner = inner[(vs[inner] >= lo_px) & (vs[inner] <= hi_px)]
    if len(inner) < 3:
        return inner[:0]
    is_peak = (signed[inner] >= signed[inner - 1]) & (signed[inner] > signed[inner + 1])
    return inner[is_peak]


def _sub_sample(vs: np.ndarray, signed: np.ndarray, k: int) -> float:
    return float(
        vs[k] + _parabolic_offset(signed[k - 1], signed[k], signed[k + 1]) * (vs[1] - vs[0])
    )


def refine_upper_lid(
    rgb: np.ndarray, face: _Face, iris_centre: np.ndarray, blur_px: float,
    debug: dict | None = None,
) -> LidMargin:  # fmt: skip
    """The upper-lid margin of one eye on the vertical through its iris centre.

    The margin is the skin-to-aperture step (bright above, dark below) NEAREST THE PUPIL
    among the steps at least `LID_REL_STEP` of the strongest in the window: a lid crease,
    eyeliner, the brow or a spectacle rim lie above the margin, never between it and the
    pupil, so taking the strongest step (as the mesh-anchored search did) let them win."""
    iris = face.iris_px
    reach = (1.1 + LID_BAND_HALF) * iris
    image, offset = _skin_contrast_roi(
        rgb, np.vstack([iris_centre - reach, iris_centre + reach]), blur_px
    )
    if image is None:
        return _NO_MARGIN
    size = max(3, int(round(LID_HIGHLIGHT_SIZE * iris)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    image = cv2.morphologyEx(image, cv2.MORPH_OPEN, kernel)

    vs, grad = _vertical_gradient(image, offset, face, iris_centre,
                                  (LID_UPPER_WINDOW[0], LID_PROFILE_BOTTOM), LID_BAND_HALF,
                                  LID_COLUMNS)  # fmt: skip
    darkening = -grad  # skin above, aperture below: the profile darkens going down
    peaks = _local_maxima(darkening, vs, LID_UPPER_WINDOW[0] * iris, LID_UPPER_WINDOW[1] * iris)
    if debug is not None:
        debug.update(vs=vs, grad=grad, peaks=peaks)
    if not len(peaks) or darkening[peaks].max() < LID_MIN_STEP:
        return _NO_MARGIN
    strength = darkening[peaks]
    good = peaks[strength >= max(LID_REL_STEP * strength.max(), LID_MIN_STEP)]
    k = int(good[np.argmin(np.abs(vs[good]))])
    chosen = darkening[k]
    nearer = peaks[(np.abs(vs[peaks]) < abs(vs[k])) & (strength > 0)]
    far = peaks[np.abs(vs[peaks] - vs[k]) > LID_COMPETITOR_SEP * iris]
    # 0 when no other darkening edge exists (a far peak of the gradient can be brightening).
    ambiguity = float(darkening[nearer].max() / chosen) if len(nearer) else 0.0
    competitor = max(float(darkening[far].max() / chosen), 0.0) if len(far) else 0.0
    v_margin = _sub_sample(vs, darkening, k)

    # Re-locate the chosen edge at the pupil column on a narrow band.
    v_iris = v_margin / iris
    window = (v_iris - LID_RELOCATE_WINDOW, v_iris + LID_RELOCATE_WINDOW)
    vs2, grad2 = _vertical_gradient(image, offset, face, iris_centre,
                                    (window[0] - 0.1, window[1] + 0.1), LID_RELOCATE_BAND_HALF,
                                    LID_RELOCATE_COLUMNS)  # fmt: skip
    peaks2 = _local_maxima(-grad2, vs2, window[0] * iris, window[1] * iris)
    peaks2 = peaks2[-grad2[peaks2] >= 0]
    if len(peaks2):
        k2 = int(peaks2[np.argmin(np.abs(vs2[peaks2] - v_margin))])
        v_margin = _sub_sample(vs2, -grad2, k2)
    if debug is not None:
        debug.update(v_margin=v_margin, competitor=competitor, ambiguity=ambiguity)
    return LidMargin(iris_centre + v_margin * face.down, competitor, ambiguity)


def _clip_along_down(point: np.ndarray, landmark: np.ndarray, face: _Face) -> np.ndarray:
    """`point` moved along the face's vertical to within `CORNER_MAX_SHIFT` of `landmark`."""
    dv = float(np.dot(point - landmark, face.down))
    limit = CORNER_MAX_SHIFT * face.iris_px
    return point + (np.clip(dv, -limit, limit) - dv) * face.down


def refine_points(rgb: np.ndarray, landmarks: np.ndarray) -> dict[int | str, np.ndarray]:
    """Refined pixel positions (x, y) of the mouth corners (61, 291) and the upper-lid
    margins (159, 386) of one frame, the lower-lid landmarks (145, 374) as MediaPipe placed
    them, and per eye the lid-margin confidence (competitor, ambiguity) under the keys of
    `LID_CONFIDENCE`: every slot of `REFINED_POINTS`.

    `landmarks` are that frame's (478, 3) MediaPipe landmarks (x, y normalised to the frame);
    a point that cannot be refined confidently keeps its landmark's pixel position.
    """
    height, width = rgb.shape[:2]
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2] * (width, height)
    out: dict[int | str, np.ndarray] = {i: pts[i].copy() for i in REFINED_LANDMARKS}
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
            out[corner] = _clip_along_down(point, pts[corner], face)
    for (upper, _lower), centre, key in zip(LIDS, IRIS_CENTRES, LID_CONFIDENCE, strict=True):
        margin = refine_upper_lid(rgb, face, pts[centre], blur)
        if margin.point is not None:
            out[upper] = margin.point
        out[key] = np.array([margin.competitor, margin.ambiguity])
    return out
