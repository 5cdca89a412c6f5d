"""What every feature column means: name, unit, region, formula in words, landmark indices,
and the provisional healthy limit used when no limits measured on unaffected faces are
given. Left-side indices are the mirror partners of the right-side ones (`mesh.MIRROR`)."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.face.mesh import (
    LEFT_IRIS_CENTRE,
    LEFT_IRIS_RING,
    NASAL_DORSUM,
    NOSE_TIP,
    RIGHT_ALAR_BASE,
    RIGHT_IRIS_CENTRE,
    RIGHT_IRIS_RING,
    RIGHT_LOWER_LID,
    RIGHT_MEDIAL_CANTHUS,
    RIGHT_MOUTH_CORNER,
    RIGHT_UPPER_LID,
    mirror,
)
from facesym_pipeline.lib.measure import symmetry as sym
from facesym_pipeline.lib.measure.functional import (
    ACTIVATION_GATE,
    LOWER_FACE_PAIRS,
    PAIRED_BLENDSHAPES,
    UPPER_FACE_PAIRS,
)
from facesym_pipeline.lib.measure.registry import (
    LID_GATED_MEASURES,
    LID_MARGIN_MAX_AMBIGUITY,
    LID_MARGIN_MAX_COMPETITOR,
    MEASURES,
)

_MC, _MCL = RIGHT_MOUTH_CORNER, mirror(RIGHT_MOUTH_CORNER)
_UL, _LL = RIGHT_UPPER_LID, RIGHT_LOWER_LID
_BROW_R, _BROW_L = sym.brow_indices()


def _ids(*groups) -> list[int]:
    out: list[int] = []
    for group in groups:
        out.extend([group] if isinstance(group, int) else list(group))
    return out


def _symmetry_rows() -> list[dict]:
    lids = (_UL, _LL, mirror(_UL), mirror(_LL))
    eye = (*sym.EYE_CANTHI, *(mirror(i) for i in sym.EYE_CANTHI))
    alar = (*RIGHT_ALAR_BASE, *(mirror(i) for i in RIGHT_ALAR_BASE))
    rows = [
        ("mouth_corner_height_diff_mm", "mm", "mouth",
         "height (along the face's up axis) of the left mouth corner minus the right; "
         "negative when the left corner droops", (_MC, _MCL)),
        ("mouth_corner_midline_diff_mm", "mm", "mouth",
         "distance of the left mouth corner from the facial midline minus that of the right "
         "(not yaw-invariant: about +3.7 mm at 12-15 degrees of yaw)", (_MC, _MCL)),
        ("mouth_tilt_deg", "deg", "mouth",
         "angle of the line from the right to the left mouth corner above the iris axis; "
         "positive when the left corner is higher", (_MC, _MCL)),
        ("upper_lip_midline_offset_mm", "mm", "mouth",
         "offset of the upper-lip centre (mean of outer and inner points) from the midline, "
         "positive towards the subject's left", sym.UPPER_LIP_MIDLINE),
        ("lower_lip_midline_offset_mm", "mm", "mouth",
         "offset of the lower-lip centre (mean of inner and outer points) from the midline, "
         "positive towards the subject's left", sym.LOWER_LIP_MIDLINE),
        ("eye_opening_diff_mm", "mm", "eyes",
         "palpebral fissure height (upper minus lower lid margin at the pupil), left minus "
         "right", lids),
        ("mrd1_diff_mm", "mm", "eyes",
         "margin-reflex distance 1 (iris centre to upper lid margin), left minus right",
         (_UL, mirror(_UL), RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)),
        ("mrd2_diff_mm", "mm", "eyes",
         "margin-reflex distance 2 (iris centre to lower lid margin), left minus right",
         (_LL, mirror(_LL), RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)),
        ("eye_level_diff_mm", "mm", "eyes",
         "height of the left eye's canthal centre (mean of lateral and medial canthus) minus "
         "the right's (the pupils define the horizontal axis, so they cannot be used)", eye),
        ("eye_midline_diff_mm", "mm", "eyes",
         "distance of the left canthal centre from the midline minus that of the right "
         "(canthi, not pupils, so gaze does not enter)", eye),
        ("nasal_bridge_deviation_deg", "deg", "nose",
         "angle between the least-squares line through the nasal dorsum (nasion to tip) and "
         "the midline; positive when the tip lies towards the subject's left",
         NASAL_DORSUM),
        ("nose_tip_midline_mm", "mm", "nose",
         "offset of the nose tip from the midline, positive towards the subject's left",
         (NOSE_TIP,)),
        ("alar_height_diff_mm", "mm", "nose",
         "height of the left alar base (mean of three lower lateral ala points) minus the "
         "right's", alar),
        ("brow_height_diff_mm", "mm", "brows",
         "height of the left eyebrow (mean of its contour) above the left iris centre minus "
         "the same on the right", (*_BROW_R, *_BROW_L, RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)),
    ]  # fmt: skip
    regions = sym.procrustes_regions()
    for region in ("mouth", "eyes", "nose", "brows", "face"):
        rows.append((
            f"procrustes_{region}", "mm", region if region != "face" else "whole face",
            "RMS over the region's landmarks of the distance between each landmark and the "
            "reflection of its mirror partner, after a similarity alignment of the reflected, "
            "relabelled face (mesh only, no iris) onto the face; about twice the distance to "
            "the nearest perfectly symmetric shape", tuple(int(i) for i in regions[region]),
        ))  # fmt: skip
    rows += [
        ("yaw_deg", "deg", "pose",
         "head yaw from the rotation fitted to the landmarks; positive when the face turns "
         "towards the image's right (subject's left)", ()),
        ("pitch_deg", "deg", "pose", "head pitch; positive chin up", ()),
        ("roll_deg", "deg", "pose",
         "head roll; positive counter-clockwise in the image (left eye higher)", ()),
        ("mm_per_px", "mm/px", "scale",
         "11.7 mm divided by the mean of the four iris ring diameters (image plane)",
         (*RIGHT_IRIS_RING, *LEFT_IRIS_RING)),
        ("ipd_mm", "mm", "scale",
         "distance between the iris centres in the face frame",
         (RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)),
    ]  # fmt: skip
    by_name = {r[0]: r for r in rows}
    for mm_name, ipd_name in zip(sym.MM_DIFF_COLUMNS, sym.IPD_COLUMNS, strict=True):
        _, _, region, formula, ids = by_name[mm_name]
        rows.append((ipd_name, "1 (fraction of IPD)", region,
                     f"{mm_name} divided by ipd_mm", (*ids, RIGHT_IRIS_CENTRE, LEFT_IRIS_CENTRE)))  # fmt: skip
    corner = {"left": _MCL, "right": _MC}
    for name in sym.CORNER_COLUMNS:
        side, axis = name.split("_")[2], name.split("_")[3]
        rows.append((name, "mm", "mouth",
                     f"{axis} of the {side} mouth corner in the face frame (origin at the "
                     "medial-canthal midpoint, +x subject's left, +y up); optional column",
                     (corner[side],)))  # fmt: skip
    gated = ", ".join(LID_GATED_MEASURES)
    rows.append((sym.EYE_GATE_COLUMN, "text", "eyes",
                 f"why {gated} (and their _ipd forms) are null on this frame: "
                 f"'{sym.LID_MARGIN_AMBIGUOUS}' when in either eye another edge competes with "
                 f"the refined upper-lid margin (competitor ratio >= {LID_MARGIN_MAX_COMPETITOR:g}) "
                 f"or a weaker edge nearer the pupil might be it (ambiguity ratio >= "
                 f"{LID_MARGIN_MAX_AMBIGUITY:g}), '{sym.LID_MARGIN_NOT_FOUND}' when no margin "
                 "edge was found; null when they are reported (always on video frames, which "
                 "keep the mesh lids)", lids))  # fmt: skip
    frame_note = (
        f" Face frame origin: midpoint of {RIGHT_MEDIAL_CANTHUS}/{mirror(RIGHT_MEDIAL_CANTHUS)}."
    )
    return [
        {"name": n, "unit": u, "region": r, "formula": f + (frame_note if u == "mm" else ""),
         "landmark_indices": _ids(i), "table": "symmetry_features"}
        for n, u, r, f, i in rows
    ]  # fmt: skip


def _functional_rows() -> list[dict]:
    rows = []
    for stem in PAIRED_BLENDSHAPES:
        rows.append({
            "name": f"bs_{stem}_asym", "unit": "1 (-1..1)", "region": _bs_region(stem),
            "formula": f"({stem}Left - {stem}Right) / ({stem}Left + {stem}Right + eps); null "
                       f"when both are below {ACTIVATION_GATE}",
            "landmark_indices": [], "table": "functional_features",
        })  # fmt: skip
    rows += [
        {"name": "blendshape_activation", "unit": "1", "region": "whole face",
         "formula": "sum of all blendshape scores except _neutral (lowest = most neutral frame)",
         "landmark_indices": [], "table": "functional_features"},
        {"name": "lower_face_asymmetry", "unit": "1 (0..1)", "region": "lower face",
         "formula": "mean of the available terms: activation-weighted mean |asymmetry| of the "
                    f"gated lower-face blendshape pairs ({', '.join(LOWER_FACE_PAIRS)}) and the "
                    "largest excess of the mouth-corner height and lip midline offsets over "
                    "their healthy limits (0 inside, 1 at twice the limit)",
         "landmark_indices": [], "table": "functional_features"},
        {"name": "upper_face_asymmetry", "unit": "1 (0..1)", "region": "brows/forehead",
         "formula": "same construction with the brow pairs "
                    f"({', '.join(UPPER_FACE_PAIRS)}) and the brow height difference",
         "landmark_indices": [], "table": "functional_features"},
        {"name": "forehead_sparing_index", "unit": "1 (0..1)", "region": "whole face",
         "formula": "lower_face_asymmetry * (1 - upper_face_asymmetry): high when the lower "
                    "face is asymmetric and the brow/forehead is not (central pattern)",
         "landmark_indices": [], "table": "functional_features"},
    ]  # fmt: skip
    return rows


def _bs_region(stem: str) -> str:
    if stem in UPPER_FACE_PAIRS:
        return "brows/forehead"
    if stem in LOWER_FACE_PAIRS:
        return "lower face"
    if stem.startswith("eye"):
        return "eyes (gaze)" if stem.startswith("eyeLook") else "eyes"
    return "jaw/mouth position"


def _summary_rows() -> list[dict]:
    def row(name, unit, formula, ids=()):
        return {"name": name, "unit": unit, "region": "per media", "formula": formula,
                "landmark_indices": list(ids), "table": "media_features"}  # fmt: skip

    return [
        row("<feature>", "as the feature",
            "image: the frame's value; video: median over the analysed frames"),
        row("<feature>_p90_abs", "as the feature", "90th percentile of |value| over frames"),
        row("<feature>_frac_out", "1 (0..1)",
            "fraction of frames whose |value| exceeds the healthy limit"),
        row("mouth_excursion_left_mm", "mm",
            "95th percentile over frames of the left mouth corner's distance from its position "
            "in the most neutral frame (lowest blendshape_activation)", (_MCL,)),
        row("mouth_excursion_right_mm", "mm", "same for the right mouth corner", (_MC,)),
        row("mouth_rom_ratio", "1 (0..1)",
            "weaker / stronger of the two mouth-corner excursions; null when the stronger "
            "moves less than 1 mm", (_MC, _MCL)),
    ]  # fmt: skip


def feature_dictionary() -> pl.DataFrame:
    """One row per feature: name, unit, region, formula, landmark_indices, table,
    healthy_abs_max and limit_basis: the registry's documented default limit and why
    (null where the column is not a registered measure; fitted normative ranges replace the
    default in `healthy_ranges`)."""
    rows = _symmetry_rows() + _functional_rows() + _summary_rows()
    for r in rows:
        registered = MEASURES.get(r["name"])
        r["healthy_abs_max"] = registered.default_limit if registered else None
        r["limit_basis"] = registered.limit_basis if registered else None
    return pl.DataFrame(
        rows,
        schema={
            "name": pl.String,
            "unit": pl.String,
            "region": pl.String,
            "formula": pl.String,
            "landmark_indices": pl.List(pl.Int64),
            "table": pl.String,
            "healthy_abs_max": pl.Float64,
            "limit_basis": pl.String,
        },
    )
