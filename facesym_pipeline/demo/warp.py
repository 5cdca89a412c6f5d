"""Injecting a known facial asymmetry into a real face image.

A smooth displacement field is built around MediaPipe landmarks, sized in millimetres via
the iris diameter, and applied with `cv2.remap`. Fields are dense `(dx, dy)` float32
arrays giving, for each pixel of the SOURCE image, where its content moves to; the
injected amount is exact at the anchor landmark, so the field doubles as ground truth.
A ptosis is a lid sliding over the eye rather than a deformation of it, so besides its
field it has its own renderer (`apply_ptosis`) that lays the shifted lid over the image.

Directions follow the face, not the image: "across" is the unit vector from the subject's
right iris centre (468) to the left one (473), "down" is perpendicular to it and points
towards the chin, so a rolled head gets its droop along its own vertical.
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from scipy.interpolate import PchipInterpolator

from facesym_pipeline.lib.face import geometry, mesh

# The landmarks each side's warp is placed on (subject's sides), by side name.
IRIS_CENTRE = {"right": mesh.RIGHT_IRIS_CENTRE, "left": mesh.LEFT_IRIS_CENTRE}
IRIS_RING = {"right": mesh.RIGHT_IRIS_RING, "left": mesh.LEFT_IRIS_RING}
MOUTH_CORNER = {"right": mesh.RIGHT_MOUTH_CORNER, "left": mesh.LEFT_MOUTH_CORNER}
UPPER_LID = {"right": mesh.RIGHT_UPPER_LID, "left": mesh.LEFT_UPPER_LID}
LOWER_LID = {"right": mesh.RIGHT_LOWER_LID, "left": mesh.LEFT_LOWER_LID}
UPPER_LID_MARGIN = {"right": mesh.RIGHT_UPPER_LID_MARGIN, "left": mesh.LEFT_UPPER_LID_MARGIN}
EYE_CORNERS = {
    "right": (mesh.RIGHT_LATERAL_CANTHUS, mesh.RIGHT_MEDIAL_CANTHUS),
    "left": (mesh.LEFT_MEDIAL_CANTHUS, mesh.LEFT_LATERAL_CANTHUS),
}

# Gaussian radius of the droop as a fraction of mouth width: wide enough that lip and cheek
# follow the corner, narrow enough that the opposite corner moves < 2% of the droop.
DROOP_SIGMA_FRACTION = 0.35
# Upward radius of the lid skin's falloff as a fraction of eye width: the skin just above
# the margin moves with the lid, the brow (about half an eye width higher) barely.
PTOSIS_SIGMA_UP_FRACTION = 0.25
# The lid may cover at most this fraction of the fissure, so some of the eye stays open.
PTOSIS_MAX_GAP_FRACTION = 0.6
# MediaPipe's margin points sit on the lash line; the lid layer reaches this far below
# them, and its new edge is blended over this width (anti-aliasing), both in px.
LID_EDGE_PX = 1.5
LID_EDGE_AA_PX = 1.0
_INVERSE_ITERATIONS = 6

Field = tuple[np.ndarray, np.ndarray]


def _xy(landmarks_px: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks_px, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < mesh.N_LANDMARKS or pts.shape[1] < 2:
        raise ValueError(f"expected (478, 2|3) pixel landmarks, got shape {pts.shape}")
    if not np.isfinite(pts[:, :2]).all():
        raise ValueError("landmarks contain non-finite coordinates")
    return pts[:, :2]


def _check_side(side: str) -> str:
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right' (the subject's), got {side!r}")
    return side


def iris_diameter_px(landmarks_px: np.ndarray) -> float:
    """Mean iris diameter over both eyes, from the two opposite pairs of each ring."""
    return float(geometry.iris_diameter_px(_xy(landmarks_px)))


def mm_per_px_from_landmarks(landmarks_px: np.ndarray) -> float:
    """Millimetres per pixel at the face, taking the iris as 11.7 mm across."""
    diameter = iris_diameter_px(landmarks_px)
    if diameter <= 0:
        raise ValueError("degenerate iris landmarks (zero diameter)")
    return geometry.IRIS_DIAMETER_MM / diameter


def face_axes(landmarks_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (across, down) of the face in image coordinates (y grows downwards)."""
    pts = _xy(landmarks_px)
    if np.array_equal(pts[mesh.LEFT_IRIS_CENTRE], pts[mesh.RIGHT_IRIS_CENTRE]):
        raise ValueError("degenerate iris landmarks (both iris centres coincide)")
    return geometry.face_axes(pts)


def _grid(shape_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    height, width = int(shape_hw[0]), int(shape_hw[1])
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    return xs, ys


def _droop_amount(
    xs: np.ndarray, ys: np.ndarray, landmarks_px: np.ndarray, side: str, droop_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Displacement (px) along the face's down axis at (xs, ys), and that axis."""
    side = _check_side(side)
    pts = _xy(landmarks_px)
    droop_px = float(droop_mm) / mm_per_px_from_landmarks(pts)
    _, down = face_axes(pts)
    corner = pts[MOUTH_CORNER[side]]
    mouth_width = np.linalg.norm(pts[MOUTH_CORNER["left"]] - pts[MOUTH_CORNER["right"]])
    sigma = DROOP_SIGMA_FRACTION * mouth_width
    weight = np.exp(-((xs - corner[0]) ** 2 + (ys - corner[1]) ** 2) / (2 * sigma**2))
    return droop_px * weight, down


def droop_field(
    shape_hw: tuple[int, int], landmarks_px: np.ndarray, side: str, droop_mm: float
) -> Field:
    """Move the subject's `side` mouth corner down the face by `droop_mm`.

    Gaussian falloff around the corner (radius a fraction of mouth width) so the lip and
    cheek follow; the displacement at the corner landmark is exactly `droop_mm`.
    """
    amount, down = _droop_amount(*_grid(shape_hw), landmarks_px, side, droop_mm)
    return (amount * down[0]).astype(np.float32), (amount * down[1]).astype(np.float32)


def droop_displacement_at(
    points_xy: np.ndarray, landmarks_px: np.ndarray, side: str, droop_mm: float
) -> np.ndarray:
    """(n, 2) displacement (px) of `droop_field` at source points, analytic."""
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    amount, down = _droop_amount(points[:, 0], points[:, 1], landmarks_px, side, droop_mm)
    return amount[:, None] * down[None, :]


def lid_gap_mm(landmarks_px: np.ndarray, side: str) -> float:
    """Distance between upper and lower lid centres along the face's vertical, in mm."""
    side = _check_side(side)
    pts = _xy(landmarks_px)
    _, down = face_axes(pts)
    gap_px = float(np.dot(pts[LOWER_LID[side]] - pts[UPPER_LID[side]], down))
    return gap_px * mm_per_px_from_landmarks(pts)


def _lid_geometry(landmarks_px: np.ndarray, side: str, ptosis_mm: float) -> dict:
    """Everything the lid model needs, in the face frame centred on the upper-lid centre.

    Checks the request (eye open, lid shift small enough for the fissure) and returns the
    axes, the lid shift in px, the eye width and the margin landmarks as (s, t) = (across,
    down) coordinates sorted from one eye corner to the other.
    """
    side = _check_side(side)
    pts = _xy(landmarks_px)
    scale = mm_per_px_from_landmarks(pts)
    across, down = face_axes(pts)
    centre = pts[UPPER_LID[side]]
    gap_px = float(np.dot(pts[LOWER_LID[side]] - centre, down))
    if gap_px <= 0:
        raise ValueError(f"{side} eye looks closed (lid gap {gap_px * scale:.2f} mm)")
    if ptosis_mm > PTOSIS_MAX_GAP_FRACTION * gap_px * scale:
        raise ValueError(
            f"ptosis of {ptosis_mm} mm is too large for the {side} eye's lid gap of "
            f"{gap_px * scale:.2f} mm (at most {PTOSIS_MAX_GAP_FRACTION:.0%} of it)"
        )
    rel = pts[list(UPPER_LID_MARGIN[side])] - centre
    s, t = rel @ across, rel @ down
    order = np.argsort(s)
    s, t = s[order], t[order]
    if s[0] >= 0 or s[-1] <= 0 or np.any(np.diff(s) <= 0):
        raise ValueError(f"{side} upper-lid landmarks do not run from corner to corner")
    corner_a, corner_b = (pts[i] for i in EYE_CORNERS[side])
    return {
        "centre": centre,
        "across": across,
        "down": down,
        "shift_px": float(ptosis_mm) / scale,
        "eye_width": float(np.linalg.norm(corner_b - corner_a)),
        "margin_s": s,
        "margin_t": t,
    }


def _lid_layer(shape_hw: tuple[int, int], geo: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel: (t, margin t, lid shift) in px, in the face frame of `_lid_geometry`."""
    return _lid_terms(*_grid(shape_hw), geo)


def _lid_terms(xs: np.ndarray, ys: np.ndarray, geo: dict):
    """(t, margin t, lid shift) in px at the points (xs, ys).

    The margin is a monotone cubic through the upper-lid landmarks. The shift is largest
    at the lid centre and falls as (1 - u^2)^2 to nothing at the canthi, u being the
    position between the centre (0) and either corner (+-1): the corners stay fixed.
    """
    rel_x, rel_y = xs - geo["centre"][0], ys - geo["centre"][1]
    across, down = geo["across"], geo["down"]
    s = rel_x * across[0] + rel_y * across[1]
    t = rel_x * down[0] + rel_y * down[1]
    s_lo, s_hi = geo["margin_s"][0], geo["margin_s"][-1]
    margin = PchipInterpolator(geo["margin_s"], geo["margin_t"])(np.clip(s, s_lo, s_hi))
    u = np.where(s < 0, s / s_lo, s / s_hi)
    shift = geo["shift_px"] * np.clip(1 - u**2, 0, None) ** 2
    return t, margin, shift


def _lid_skin_amount(t: np.ndarray, margin: np.ndarray, shift: np.ndarray, geo: dict):
    """Shift of the lid layer: rigid at and below the margin, a Gaussian falloff above it."""
    sigma_up = PTOSIS_SIGMA_UP_FRACTION * geo["eye_width"]
    above = np.clip(margin - t, 0, None)
    return shift * np.exp(-(above**2) / (2 * sigma_up**2))


def _ptosis_amount(t: np.ndarray, margin: np.ndarray, shift: np.ndarray, geo: dict):
    """Forward shift along down: the lid layer's above its edge; below it the strip the lid
    comes to cover collapses onto the new edge, and further down nothing moves."""
    edge = margin + LID_EDGE_PX
    return np.where(
        t <= edge, _lid_skin_amount(t, margin, shift, geo), np.clip(shift - (t - edge), 0, None)
    )


def ptosis_field(
    shape_hw: tuple[int, int], landmarks_px: np.ndarray, side: str, ptosis_mm: float
) -> Field:
    """Forward field of a `ptosis_mm` drop of the subject's `side` upper-lid margin.

    The lid slides over the eye: content at and above the margin (plus a lash band of
    `LID_EDGE_PX`) moves down by the lid shift, exactly `ptosis_mm` at the lid centre,
    with a Gaussian falloff towards the brow; the strip of eye it comes to cover is
    collapsed under the new lid edge (displacement falling with slope -1, i.e. hidden);
    everything below it, iris and lower lid included, stays put. `apply_fields` renders
    this field only approximately at the new edge; `apply_ptosis` renders it with a sharp,
    anti-aliased edge.
    """
    geo = _lid_geometry(landmarks_px, side, ptosis_mm)
    amount = _ptosis_amount(*_lid_layer(shape_hw, geo), geo)
    down = geo["down"]
    return (amount * down[0]).astype(np.float32), (amount * down[1]).astype(np.float32)


def apply_ptosis(
    image: np.ndarray, landmarks_px: np.ndarray, side: str, ptosis_mm: float
) -> np.ndarray:
    """Render a ptosis of `ptosis_mm` on the subject's `side` by occlusion.

    The lid layer (skin and lashes, shifted as in `ptosis_field`) is laid over the
    untouched image; it covers everything above the new margin curve, with a ~1 px
    anti-aliased edge, and below that curve every pixel keeps its original value, so the
    iris does not move.
    """
    geo = _lid_geometry(landmarks_px, side, ptosis_mm)
    t, margin, shift = _lid_layer(image.shape[:2], geo)
    amount = _lid_skin_amount(t, margin, shift, geo)
    down = geo["down"]
    lid_field = ((amount * down[0]).astype(np.float32), (amount * down[1]).astype(np.float32))
    map_x, map_y = inverse_maps(lid_field)
    lid = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    # Destination-side edge: the old margin (plus lash band) moved down by the shift.
    cover = np.clip((margin + LID_EDGE_PX + shift - t) / LID_EDGE_AA_PX + 0.5, 0, 1)
    cover = np.where(shift > 0, cover, 0.0).astype(np.float32)
    if image.ndim == 3:
        cover = cover[..., None]
    out = cover * lid.astype(np.float32) + (1 - cover) * image.astype(np.float32)
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), info.min, info.max)
    return out.astype(image.dtype)


def ptosis_displacement_at(
    points_xy: np.ndarray, landmarks_px: np.ndarray, side: str, ptosis_mm: float
) -> np.ndarray:
    """(n, 2) displacement (px) of `ptosis_field` at source points, analytic: where the
    content of each point ends up under `apply_ptosis` (content the lid covers ends at the
    lid's new edge, which is where an edge finder will see it)."""
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    geo = _lid_geometry(landmarks_px, side, ptosis_mm)
    amount = _ptosis_amount(*_lid_terms(points[:, 0], points[:, 1], geo), geo)
    return amount[:, None] * geo["down"][None, :]


def field_at(field: Field, point_xy: np.ndarray) -> np.ndarray:
    """Bilinear sample of a field at one sub-pixel point -> (dx, dy)."""
    x, y = float(point_xy[0]), float(point_xy[1])
    out = []
    for comp in field:
        map_x = np.array([[x]], dtype=np.float32)
        map_y = np.array([[y]], dtype=np.float32)
        out.append(
            cv2.remap(comp, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[0, 0]
        )
    return np.array(out, dtype=np.float64)


def sum_fields(fields: Iterable[Field]) -> Field:
    """Compose fields by adding them: exact for fields that do not overlap (droop vs lid)."""
    fields = list(fields)
    if not fields:
        raise ValueError("no fields to compose")
    dx = np.sum([f[0] for f in fields], axis=0, dtype=np.float32)
    dy = np.sum([f[1] for f in fields], axis=0, dtype=np.float32)
    return dx, dy


def inverse_maps(field: Field) -> tuple[np.ndarray, np.ndarray]:
    """For each destination pixel q, the source point s with s + D(s) = q.

    Fixed-point iteration s <- q - D(s); it converges because every field here has a
    gradient well below 1, and unlike the first-order q - D(q) it is exact at the anchor.
    """
    dx, dy = field
    xs, ys = _grid(dx.shape)
    qx, qy = xs.astype(np.float32), ys.astype(np.float32)
    sx, sy = qx - dx, qy - dy
    for _ in range(_INVERSE_ITERATIONS):
        ddx = cv2.remap(dx, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        ddy = cv2.remap(dy, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        sx, sy = qx - ddx, qy - ddy
    return sx, sy


def apply_fields(image: np.ndarray, fields: Field | Iterable[Field]) -> np.ndarray:
    """Warp `image` so the content at each source pixel p moves to p + sum of fields(p)."""
    if isinstance(fields, tuple) and len(fields) == 2 and isinstance(fields[0], np.ndarray):
        fields = [fields]
    field = sum_fields(fields)
    if field[0].shape != image.shape[:2]:
        raise ValueError(f"field shape {field[0].shape} does not match image {image.shape[:2]}")
    map_x, map_y = inverse_maps(field)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
