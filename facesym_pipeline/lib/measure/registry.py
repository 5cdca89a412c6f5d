"""The one registry of measures that carry a healthy limit: what each means, its unit,
region, landmarks, sign convention, and the documented default limit with where it comes
from. Symmetry features, functional region scores, per-media summaries, video trends, the
risk signal, `facesym analyze` and the feature dictionary all read their limits here, and
nowhere else writes a limit down.

A default limit is a prior: it is used only when no normative ranges fitted on real,
unaffected people exist (`normative`). Healthy faces are not symmetric, so no limit is
zero. Sign convention of every `diff`: the subject's LEFT minus the subject's RIGHT; heights
are measured upwards; midline offsets are positive towards the subject's left.
"""

from __future__ import annotations

from dataclasses import dataclass

from facesym_pipeline.lib.face.mesh import (
    LEFT_IRIS_CENTRE,
    LOWER_LIP_INNER,
    LOWER_LIP_OUTER,
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


@dataclass(frozen=True)
class Measure:
    name: str
    unit: str  # "mm", "deg" or "1" (unitless index)
    region: str  # mouth, eyes, nose, brows, lower face, brows/forehead, whole face
    label: str  # in words, for reasons and reports
    landmarks: tuple[int, ...]  # mesh indices the measure reads (both sides)
    default_limit: float  # healthy faces stay within |value| <= limit (prior)
    limit_basis: str  # why the default is what it is
    negative: str | None = None  # what a negative value means
    positive: str | None = None

    @property
    def unit_suffix(self) -> str:
        return "" if self.unit == "1" else f" {self.unit}"


def _pair(index: int) -> tuple[int, int]:
    return index, mirror(index)


_MOUTH = _pair(RIGHT_MOUTH_CORNER)
_LIDS = (*_pair(RIGHT_UPPER_LID), *_pair(RIGHT_LOWER_LID))
_IRIS = (RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)
_CANTHI = (*_pair(RIGHT_LATERAL_CANTHUS), *_pair(RIGHT_MEDIAL_CANTHUS))
_ALAR = tuple(i for r in RIGHT_ALAR_BASE for i in _pair(r))
_BROWS = tuple(i for r in contour("RIGHT_EYEBROW") for i in _pair(int(r)))

# Bases of the defaults, in words (each default cites one of them).
_REST = "order of magnitude of resting asymmetry in healthy adults plus landmark jitter"
_PTOSIS = (
    "about 1 mm of fissure difference is common in healthy faces and 2 mm is the usual "
    "clinical mark of ptosis; the default sits between"
)
_BROW = "brows are the least symmetric region at rest in healthy faces"
_SCORE = "unitless 0..1 score: 0 at the healthy limits of its parts, 1 at twice them"
_PROCRUSTES = "RMS mirror residual of the healthy sample stills, rounded up"

MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("mouth_corner_height_diff_mm", "mm", "mouth", "mouth-corner height difference",
                _MOUTH, 2.0, _REST, "left corner lower", "right corner lower"),
        Measure("mouth_corner_midline_diff_mm", "mm", "mouth",
                "mouth-corner distance to the midline, difference", _MOUTH, 2.5, _REST,
                "left corner nearer the midline", "right corner nearer the midline"),
        Measure("mouth_tilt_deg", "deg", "mouth", "mouth tilt", _MOUTH, 3.0, _REST,
                "left corner lower", "left corner higher"),
        Measure("upper_lip_midline_offset_mm", "mm", "mouth", "upper-lip offset from the midline",
                (UPPER_LIP_OUTER, UPPER_LIP_INNER), 2.5, _REST, "towards the right", "towards the left"),
        Measure("lower_lip_midline_offset_mm", "mm", "mouth", "lower-lip offset from the midline",
                (LOWER_LIP_INNER, LOWER_LIP_OUTER), 2.5, _REST, "towards the right", "towards the left"),
        Measure("eye_opening_diff_mm", "mm", "eyes", "eye-opening difference", _LIDS, 1.5,
                _PTOSIS, "left eye narrower", "right eye narrower"),
        Measure("mrd1_diff_mm", "mm", "eyes", "upper-lid height above the pupil (MRD1), difference",
                (*_pair(RIGHT_UPPER_LID), *_IRIS), 1.2, _PTOSIS, "left lid lower",
                "right lid lower"),
        Measure("mrd2_diff_mm", "mm", "eyes", "lower-lid distance below the pupil (MRD2), difference",
                (*_pair(RIGHT_LOWER_LID), *_IRIS), 1.5, _PTOSIS, "left lower lid higher",
                "right lower lid higher"),
        Measure("eye_level_diff_mm", "mm", "eyes", "eye level difference", _CANTHI, 1.5, _REST,
                "left eye lower", "left eye higher"),
        Measure("eye_midline_diff_mm", "mm", "eyes", "eye distance to the midline, difference",
                _CANTHI, 1.5, _REST, "left eye nearer the midline", "left eye farther"),
        Measure("nasal_bridge_deviation_deg", "deg", "nose", "nasal-bridge deviation",
                NASAL_DORSUM, 4.0, _REST, "tip towards the right", "tip towards the left"),
        Measure("nose_tip_midline_mm", "mm", "nose", "nose-tip offset from the midline",
                (NOSE_TIP,), 2.0, _REST, "towards the right", "towards the left"),
        Measure("alar_height_diff_mm", "mm", "nose", "alar-base height difference", _ALAR, 1.5,
                _REST, "left ala lower", "left ala higher"),
        Measure("brow_height_diff_mm", "mm", "brows", "brow height difference", (*_BROWS, *_IRIS), 2.5,
                _BROW, "left brow lower", "right brow lower"),
        Measure("procrustes_mouth", "mm", "mouth", "mouth shape asymmetry", (), 2.0, _PROCRUSTES),
        Measure("procrustes_eyes", "mm", "eyes", "eye shape asymmetry", (), 2.5, _PROCRUSTES),
        Measure("procrustes_nose", "mm", "nose", "nose shape asymmetry", (), 2.0, _PROCRUSTES),
        Measure("procrustes_brows", "mm", "brows", "brow shape asymmetry", (), 3.0, _PROCRUSTES),
        Measure("procrustes_face", "mm", "whole face", "face shape asymmetry", (), 2.5,
                _PROCRUSTES),
        Measure("bs_mouthSmile_asym", "1", "lower face", "smile asymmetry", (), 0.3,
                "blendshape index -1..1: one side moving half as much as the other gives 0.33",
                "left side moves less", "right side moves less"),
        Measure("lower_face_asymmetry", "1", "lower face", "lower-face asymmetry score", (),
                0.3, _SCORE),
        Measure("upper_face_asymmetry", "1", "brows/forehead", "upper-face asymmetry score", (),
                0.3, _SCORE),
        Measure("forehead_sparing_index", "1", "whole face", "forehead-sparing index", (), 0.3,
                _SCORE),
    )
}  # fmt: skip


# The eye measures read the pixel-refined upper-lid margins (`lib/face/refine.py`). Where
# another edge in the eye (a lid crease, eyeliner, a spectacle rim) is nearly as strong as
# the margin found, or a weaker edge nearer the pupil might be the margin, the measure can
# be off by the crease-to-margin distance (4-7 mm), so on such a frame these measures are
# withheld (null, with the reason in `eye_measures_withheld`). Limits on the margin's
# confidence ratios (`refine.LidMargin`), either eye; chosen on the fit people of the
# normative population: no ptosis pair erred by more than 2 mm and 77 % were kept.
LID_MARGIN_MAX_COMPETITOR = 1.5
LID_MARGIN_MAX_AMBIGUITY = 0.4
LID_GATED_MEASURES = ("eye_opening_diff_mm", "mrd1_diff_mm", "mrd2_diff_mm")


def measure(name: str) -> Measure:
    try:
        return MEASURES[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a registered measure") from None


def default_limits(names=None) -> dict[str, float]:
    """measure -> documented default limit, for `names` (all registered measures if None)."""
    chosen = MEASURES if names is None else {n: measure(n) for n in names}
    return {n: m.default_limit for n, m in chosen.items()}
