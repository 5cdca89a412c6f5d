"""Static (shape) symmetry measurements per frame, in millimetres in the face frame.

Every measure is computed on the face-frame coordinates of `face_frame` (origin at the
medial-canthal midpoint, +x towards the subject's left, +y up, frontalised by default).
Sign conventions: a `diff` is the subject's LEFT minus the subject's RIGHT; heights are
measured upwards, so a face whose left mouth corner droops has a negative
`mouth_corner_height_diff_mm`; offsets from the midline are positive towards the subject's
left. Left-side landmarks are the mirror partners (`mesh.MIRROR`) of the right-side
landmarks named here, so the two sides always use corresponding points.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from facesym_pipeline.lib.face.geometry import Refined, face_frame, pose_from_transform
from facesym_pipeline.lib.face.mesh import (
    LEFT_IRIS_CENTRE,
    LOWER_LIP_INNER,
    LOWER_LIP_OUTER,
    MIRROR,
    N_MESH,
    NASAL_DORSUM,
    NOSE_TIP,
    RIGHT_ALAR_BASE,
    RIGHT_IRIS_CENTRE,
    RIGHT_LATERAL_CANTHUS,
    RIGHT_LOWER_LID,
    RIGHT_MEDIAL_CANTHUS,
    RIGHT_MOUTH_CORNER,
    RIGHT_UPPER_LID,
    UPPER_LIP_INNER,
    UPPER_LIP_OUTER,
    contour,
    mirror,
)
from facesym_pipeline.lib.measure.registry import (
    LID_GATED_MEASURES,
    LID_MARGIN_MAX_AMBIGUITY,
    LID_MARGIN_MAX_COMPETITOR,
    MEASURES,
    default_limits,
)

# Point sets the measures average; the subject's right side, left partners from MIRROR.
UPPER_LIP_MIDLINE = (UPPER_LIP_OUTER, UPPER_LIP_INNER)
LOWER_LIP_MIDLINE = (LOWER_LIP_INNER, LOWER_LIP_OUTER)
EYE_CANTHI = (RIGHT_LATERAL_CANTHUS, RIGHT_MEDIAL_CANTHUS)

MM_DIFF_COLUMNS = (
    "mouth_corner_height_diff_mm",
    "mouth_corner_midline_diff_mm",
    "upper_lip_midline_offset_mm",
    "lower_lip_midline_offset_mm",
    "eye_opening_diff_mm",
    "mrd1_diff_mm",
    "mrd2_diff_mm",
    "eye_level_diff_mm",
    "eye_midline_diff_mm",
    "nose_tip_midline_mm",
    "alar_height_diff_mm",
    "brow_height_diff_mm",
)
PROCRUSTES_COLUMNS = (
    "procrustes_mouth",
    "procrustes_eyes",
    "procrustes_nose",
    "procrustes_brows",
    "procrustes_face",
)
SIGNED_COLUMNS = MM_DIFF_COLUMNS + ("mouth_tilt_deg", "nasal_bridge_deviation_deg")
POSE_SCALE_COLUMNS = ("yaw_deg", "pitch_deg", "roll_deg", "mm_per_px", "ipd_mm")
IPD_COLUMNS = tuple(name.removesuffix("_mm") + "_ipd" for name in MM_DIFF_COLUMNS)
COLUMNS = (
    MM_DIFF_COLUMNS[:2]
    + ("mouth_tilt_deg",)
    + MM_DIFF_COLUMNS[2:9]
    + ("nasal_bridge_deviation_deg",)
    + MM_DIFF_COLUMNS[9:]
    + PROCRUSTES_COLUMNS
    + POSE_SCALE_COLUMNS
    + IPD_COLUMNS
)

# Why a frame's eye measures (`LID_GATED_MEASURES` and their `_ipd` forms) are null:
# null when they are reported.
EYE_GATE_COLUMN = "eye_measures_withheld"
LID_MARGIN_AMBIGUOUS = "lid_margin_ambiguous"  # another edge could be the margin
LID_MARGIN_NOT_FOUND = "lid_margin_not_found"  # no edge strong enough in the search window

CORNER_COLUMNS = (
    "mouth_corner_left_x_mm",
    "mouth_corner_left_y_mm",
    "mouth_corner_right_x_mm",
    "mouth_corner_right_y_mm",
)


# Healthy |value| limits of the symmetry measures (documented defaults of the registry),
# for "fraction of frames beyond the healthy range" and the region scores.
HEALTHY_ABS_MAX: dict[str, float] = default_limits([n for n in MEASURES if n in COLUMNS])


def _lefts(indices: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(mirror(i) for i in indices)


_CORNER_SOURCES = (
    (mirror(RIGHT_MOUTH_CORNER), 0),
    (mirror(RIGHT_MOUTH_CORNER), 1),
    (RIGHT_MOUTH_CORNER, 0),
    (RIGHT_MOUTH_CORNER, 1),
)


@lru_cache(maxsize=1)
def procrustes_regions() -> dict[str, np.ndarray]:
    """Landmark indices per Procrustes region."""
    return {
        "mouth": contour("LIPS"),
        "eyes": contour("LEFT_EYE", "RIGHT_EYE"),
        "nose": contour("NOSE"),
        "brows": contour("LEFT_EYEBROW", "RIGHT_EYEBROW"),
        "face": np.arange(N_MESH),
    }


@lru_cache(maxsize=1)
def brow_indices() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(subject's right, subject's left) eyebrow landmarks, paired index by index."""
    right = tuple(int(i) for i in contour("RIGHT_EYEBROW"))
    return right, _lefts(right)


def _mean(coords: np.ndarray, indices, axis: int) -> np.ndarray:
    return coords[:, list(indices), axis].mean(axis=1)


def reflection_residuals(coords: np.ndarray) -> np.ndarray:
    """(N, 468) distance between each mesh landmark and its mirror partner's reflection after
    a similarity alignment of the reflected, relabelled mesh onto the mesh (same units).

    The iris points are left out: where the eyes look is gaze, not facial shape (with the
    head turned and the eyes on the camera the irises sit off-centre in both eyes)."""
    target = coords[:, :N_MESH]
    source = coords[:, MIRROR[:N_MESH], :] * np.array([-1.0, 1.0, 1.0])
    t_mean = target.mean(axis=1, keepdims=True)
    s_mean = source.mean(axis=1, keepdims=True)
    t0, s0 = target - t_mean, source - s_mean
    cross = np.einsum("nki,nkj->nij", t0, s0)
    u, sing, vt = np.linalg.svd(cross)
    det = np.sign(np.linalg.det(u @ vt))
    fix = np.ones((len(coords), 3))
    fix[:, 2] = det
    rotation = (u * fix[:, None, :]) @ vt
    scale = (sing * fix).sum(axis=1) / np.einsum("nki,nki->n", s0, s0)
    aligned = scale[:, None, None] * np.einsum("nij,nkj->nki", rotation, s0) + t_mean
    return np.linalg.norm(target - aligned, axis=-1)


def measure(coords: np.ndarray) -> dict[str, np.ndarray]:
    """Shape measures from face-frame coordinates (N, 478, >=2) in mm."""
    x, y = coords[..., 0], coords[..., 1]
    r_mouth, l_mouth = RIGHT_MOUTH_CORNER, mirror(RIGHT_MOUTH_CORNER)
    r_up, l_up = RIGHT_UPPER_LID, mirror(RIGHT_UPPER_LID)
    r_low, l_low = RIGHT_LOWER_LID, mirror(RIGHT_LOWER_LID)
    r_iris, l_iris = RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE
    r_eye, l_eye = EYE_CANTHI, _lefts(EYE_CANTHI)
    r_brow, l_brow = brow_indices()

    out: dict[str, np.ndarray] = {}
    out["mouth_corner_height_diff_mm"] = y[:, l_mouth] - y[:, r_mouth]
    out["mouth_corner_midline_diff_mm"] = x[:, l_mouth] + x[:, r_mouth]
    out["mouth_tilt_deg"] = np.degrees(
        np.arctan2(y[:, l_mouth] - y[:, r_mouth], x[:, l_mouth] - x[:, r_mouth])
    )
    out["upper_lip_midline_offset_mm"] = _mean(coords, UPPER_LIP_MIDLINE, 0)
    out["lower_lip_midline_offset_mm"] = _mean(coords, LOWER_LIP_MIDLINE, 0)
    out["eye_opening_diff_mm"] = (y[:, l_up] - y[:, l_low]) - (y[:, r_up] - y[:, r_low])
    out["mrd1_diff_mm"] = (y[:, l_up] - y[:, l_iris]) - (y[:, r_up] - y[:, r_iris])
    out["mrd2_diff_mm"] = (y[:, l_iris] - y[:, l_low]) - (y[:, r_iris] - y[:, r_low])
    out["eye_level_diff_mm"] = _mean(coords, l_eye, 1) - _mean(coords, r_eye, 1)
    out["eye_midline_diff_mm"] = _mean(coords, l_eye, 0) + _mean(coords, r_eye, 0)
    # Least-squares line x = a + b*y through the dorsum; a tip towards the subject's left
    # (x growing downwards) is a positive deviation.
    dorsum = list(NASAL_DORSUM)
    dy = y[:, dorsum] - y[:, dorsum].mean(axis=1, keepdims=True)
    dx = x[:, dorsum] - x[:, dorsum].mean(axis=1, keepdims=True)
    slope = (dx * dy).sum(axis=1) / (dy * dy).sum(axis=1)
    out["nasal_bridge_deviation_deg"] = np.degrees(np.arctan(-slope))
    out["nose_tip_midline_mm"] = x[:, NOSE_TIP]
    out["alar_height_diff_mm"] = _mean(coords, _lefts(RIGHT_ALAR_BASE), 1) - _mean(
        coords, RIGHT_ALAR_BASE, 1
    )
    out["brow_height_diff_mm"] = (_mean(coords, l_brow, 1) - y[:, l_iris]) - (
        _mean(coords, r_brow, 1) - y[:, r_iris]
    )
    return out


def empty_symmetry_frame(corner_positions: bool = False, lid_gate: bool = False) -> pl.DataFrame:
    names = COLUMNS + (CORNER_COLUMNS if corner_positions else ())
    schema = {name: pl.Float64 for name in names}
    if lid_gate:
        schema[EYE_GATE_COLUMN] = pl.String
    return pl.DataFrame(schema=schema)


def eye_measure_gate(lid_confidence: np.ndarray) -> np.ndarray:
    """Per frame, why its eye measures are withheld (None: they are not).

    `lid_confidence` is (N, 2, 2): per frame, per eye, the upper-lid margin's (competitor,
    ambiguity) ratios from `refine.refine_points`; inf where no margin was found, NaN where
    the frame was not refined (video frames keep the mesh lids, which this gate does not
    judge)."""
    conf = np.asarray(lid_confidence, dtype=np.float64).reshape(-1, 2, 2)
    not_found = np.isposinf(conf).any(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        ambiguous = (conf[..., 0] >= LID_MARGIN_MAX_COMPETITOR) | (
            conf[..., 1] >= LID_MARGIN_MAX_AMBIGUITY
        )
    return np.where(
        not_found, LID_MARGIN_NOT_FOUND, np.where(ambiguous.any(axis=1), LID_MARGIN_AMBIGUOUS, None)
    )


def symmetry_features(
    landmarks: np.ndarray,
    frame_width,
    frame_height,
    transform: np.ndarray | None = None,
    refined: Refined = None,
    frontalise: bool = True,
    pose_from: str = "landmarks",
    corner_positions: bool = False,
    lid_confidence: np.ndarray | None = None,
) -> pl.DataFrame:
    """One row per frame (input order) with the columns in `COLUMNS`.

    landmarks (N, 478, 3) normalised as MediaPipe gives them; frame_width/height scalars or
    (N,); transform (N, 4, 4) facial transformation matrices, only used for the pose columns
    when pose_from="transform" (by default the pose is the rotation fitted to the landmarks,
    the same one used to frontalise); refined: optional pixel positions overriding landmark
    x/y (see `geometry.pixel_points`). Procrustes columns are RMS distances in mm between
    each landmark and its mirror partner's reflection after similarity alignment (about twice
    the distance to the nearest perfectly symmetric shape). `_ipd` columns are the `_mm`
    columns divided by ipd_mm (dimensionless). corner_positions=True appends the face-frame
    positions of both mouth corners (`CORNER_COLUMNS`, mm), which the per-media range of
    motion needs. `lid_confidence` (N, 2, 2), the lid-margin ratios of `refine_points`,
    withholds the eye measures of frames `eye_measure_gate` rejects and appends the reason
    column `EYE_GATE_COLUMN`.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim == 2:
        landmarks = landmarks[None]
    if len(landmarks) == 0:
        return empty_symmetry_frame(corner_positions, lid_gate=lid_confidence is not None)
    frame = face_frame(landmarks, frame_width, frame_height, refined, frontalise)
    values = measure(frame.coords_mm)
    residuals = reflection_residuals(frame.coords_mm)
    for region, indices in procrustes_regions().items():
        values[f"procrustes_{region}"] = np.sqrt(np.mean(residuals[:, indices] ** 2, axis=1))
    if pose_from == "transform":
        if transform is None:
            raise ValueError("pose_from='transform' needs the transformation matrices")
        values["yaw_deg"], values["pitch_deg"], values["roll_deg"] = pose_from_transform(transform)
    elif pose_from == "landmarks":
        values["yaw_deg"], values["pitch_deg"], values["roll_deg"] = (
            frame.yaw_deg,
            frame.pitch_deg,
            frame.roll_deg,
        )
    else:
        raise ValueError(f"pose_from must be 'landmarks' or 'transform', not {pose_from!r}")
    values["mm_per_px"] = frame.mm_per_px
    values["ipd_mm"] = frame.ipd_mm
    for mm_name, ipd_name in zip(MM_DIFF_COLUMNS, IPD_COLUMNS, strict=True):
        values[ipd_name] = values[mm_name] / frame.ipd_mm
    names = COLUMNS
    if corner_positions:
        for name, (index, axis) in zip(CORNER_COLUMNS, _CORNER_SOURCES, strict=True):
            values[name] = frame.coords_mm[:, index, axis]
        names = COLUMNS + CORNER_COLUMNS
    data = {name: np.asarray(values[name], dtype=np.float64) for name in names}
    if lid_confidence is None:
        return pl.DataFrame(data).fill_nan(None)
    reason = eye_measure_gate(lid_confidence)
    withheld = np.array([r is not None for r in reason], dtype=bool)
    for name in LID_GATED_MEASURES:
        for column in (name, name.removesuffix("_mm") + "_ipd"):
            data[column] = np.where(withheld, np.nan, data[column])
    return (
        pl.DataFrame(data)
        .fill_nan(None)
        .with_columns(pl.Series(EYE_GATE_COLUMN, reason.tolist(), dtype=pl.String))
    )
