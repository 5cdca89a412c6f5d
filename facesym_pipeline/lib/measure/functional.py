"""Functional (movement) asymmetry per frame from MediaPipe blendshapes, optionally combined
with the geometric symmetry measures into region scores.

Blendshape names ending in Left/Right are the subject's sides. For every such pair,
`bs_<stem>_asym` = (L - R) / (L + R + eps) in [-1, 1], positive when the subject's left
moves more; it is null when both sides are at rest (max(L, R) < ACTIVATION_GATE), because the
ratio of two near-zero scores is noise.

Region scores (0..1, higher = more asymmetric):
- lower_face_asymmetry: mean of the available terms among (a) the activation-weighted mean
  |asymmetry| of the gated lower-face pairs (mouth and cheek movements), weights max(L, R),
  so a strong one-sided smile counts more than a flicker; (b) when symmetry features are
  given, the largest excess of |mouth-corner height difference| and |upper/lower lip midline
  offset| over their healthy limits, scaled 0 at the limit and 1 at twice the limit.
- upper_face_asymmetry: the same with the brow/forehead pairs (browDown, browOuterUp) and
  |brow height difference|.
- forehead_sparing_index = lower_face_asymmetry * (1 - upper_face_asymmetry): high only when
  the lower face is asymmetric while the brow/forehead is not, the pattern of a central
  (stroke-like) facial palsy, where a peripheral palsy also involves the forehead. Null when
  either region score is unknown (for example brows at rest and no geometry given).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.face.landmarker import BLENDSHAPE_NAMES
from facesym_pipeline.lib.measure.registry import default_limits
from facesym_pipeline.lib.measure.symmetry import HEALTHY_ABS_MAX as SYMMETRY_LIMITS

ACTIVATION_GATE = 0.1
EPS = 1e-6
PAIRED_BLENDSHAPES: tuple[str, ...] = tuple(
    name.removesuffix("Left")
    for name in BLENDSHAPE_NAMES
    if name.endswith("Left") and name.removesuffix("Left") + "Right" in BLENDSHAPE_NAMES
)
LOWER_FACE_PAIRS = (
    "mouthSmile", "mouthFrown", "mouthStretch", "mouthPress", "mouthUpperUp",
    "mouthLowerDown", "mouthDimple", "cheekSquint", "noseSneer",
)  # fmt: skip
UPPER_FACE_PAIRS = ("browDown", "browOuterUp")
LOWER_FACE_MEASURES = (
    "mouth_corner_height_diff_mm",
    "upper_lip_midline_offset_mm",
    "lower_lip_midline_offset_mm",
)
UPPER_FACE_MEASURES = ("brow_height_diff_mm",)
# A region score above its registry limit is outside what healthy faces show.
HEALTHY_ABS_MAX = default_limits(
    ("lower_face_asymmetry", "upper_face_asymmetry", "forehead_sparing_index")
)
ASYM_COLUMNS = tuple(f"bs_{stem}_asym" for stem in PAIRED_BLENDSHAPES)
SCORE_COLUMNS = ("lower_face_asymmetry", "upper_face_asymmetry", "forehead_sparing_index")
COLUMNS = ASYM_COLUMNS + ("blendshape_activation",) + SCORE_COLUMNS


def _sides(blendshapes: np.ndarray, stem: str) -> tuple[np.ndarray, np.ndarray]:
    return (
        blendshapes[:, BLENDSHAPE_NAMES.index(stem + "Left")],
        blendshapes[:, BLENDSHAPE_NAMES.index(stem + "Right")],
    )


def pair_asymmetry(left: np.ndarray, right: np.ndarray, gate: float = ACTIVATION_GATE):
    """(L - R) / (L + R + eps), NaN where both sides are below the gate."""
    ratio = (left - right) / (left + right + EPS)
    return np.where(np.maximum(left, right) < gate, np.nan, ratio)


def _blendshape_term(blendshapes: np.ndarray, stems: tuple[str, ...]) -> np.ndarray:
    num = np.zeros(len(blendshapes))
    den = np.zeros(len(blendshapes))
    for stem in stems:
        left, right = _sides(blendshapes, stem)
        asym = pair_asymmetry(left, right)
        weight = np.where(np.isnan(asym), 0.0, np.maximum(left, right))
        num += weight * np.nan_to_num(np.abs(asym))
        den += weight
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _geometric_term(symmetry: pl.DataFrame, measures: tuple[str, ...]) -> np.ndarray:
    """Largest excess over the healthy limit, 0 at the limit, 1 at twice the limit."""
    excess = []
    for name in measures:
        limit = SYMMETRY_LIMITS[name]
        values = symmetry[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        excess.append(np.clip((np.abs(values) - limit) / limit, 0.0, 1.0))
    stacked = np.stack(excess)
    all_nan = np.all(np.isnan(stacked), axis=0)
    return np.where(all_nan, np.nan, np.nanmax(np.where(np.isnan(stacked), -1, stacked), axis=0))


def _nanmean(*terms: np.ndarray) -> np.ndarray:
    stacked = np.stack(terms)
    count = np.sum(~np.isnan(stacked), axis=0)
    total = np.nansum(stacked, axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def functional_features(
    blendshapes: np.ndarray, symmetry: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per frame (input order): `bs_<stem>_asym` for every Left/Right blendshape
    pair, `blendshape_activation` (sum of all scores except _neutral; the lowest is the most
    neutral frame), and the three region scores (module docstring). `symmetry`, when given,
    is the `symmetry_features` frame of the same frames, in the same order."""
    bs = np.asarray(blendshapes, dtype=np.float64).reshape(-1, len(BLENDSHAPE_NAMES))
    if symmetry is not None and symmetry.height != len(bs):
        raise ValueError("symmetry features must have one row per blendshape row")
    data: dict[str, np.ndarray] = {}
    for stem, column in zip(PAIRED_BLENDSHAPES, ASYM_COLUMNS, strict=True):
        data[column] = pair_asymmetry(*_sides(bs, stem))
    data["blendshape_activation"] = bs[:, 1:].sum(axis=1)
    lower_terms = [_blendshape_term(bs, LOWER_FACE_PAIRS)]
    upper_terms = [_blendshape_term(bs, UPPER_FACE_PAIRS)]
    if symmetry is not None and len(bs):
        lower_terms.append(_geometric_term(symmetry, LOWER_FACE_MEASURES))
        upper_terms.append(_geometric_term(symmetry, UPPER_FACE_MEASURES))
    lower = _nanmean(*lower_terms)
    upper = _nanmean(*upper_terms)
    data["lower_face_asymmetry"] = lower
    data["upper_face_asymmetry"] = upper
    data["forehead_sparing_index"] = lower * (1.0 - upper)
    frame = pl.DataFrame({name: np.asarray(data[name], np.float64) for name in COLUMNS})
    return frame.fill_nan(None)
