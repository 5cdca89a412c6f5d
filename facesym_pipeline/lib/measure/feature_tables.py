"""Per-frame feature tables of a dataset from its landmark and quality tables: only
frames that passed the quality judge are measured."""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.face.landmark_table import landmark_arrays
from facesym_pipeline.lib.face.landmarker import BLENDSHAPE_NAMES
from facesym_pipeline.lib.face.refine import LID_CONFIDENCE, REFINED_LANDMARKS, REFINED_POINTS
from facesym_pipeline.lib.measure.functional import PAIRED_BLENDSHAPES, functional_features
from facesym_pipeline.lib.measure.media_summary import summarise_media
from facesym_pipeline.lib.measure.symmetry import empty_symmetry_frame, symmetry_features

KEYS = ("dataset", "media_id", "frame_index", "t_s")
# Raw scores of the paired blendshapes travel with the asymmetries: the temporal detectors
# need each side's activation, not only their ratio.
RAW_BLENDSHAPES = tuple(
    f"{stem}{side}" for stem in PAIRED_BLENDSHAPES for side in ("Left", "Right")
)


def _refined(
    frames: pl.DataFrame, stills: pl.Series | None
) -> tuple[dict[int, np.ndarray] | None, np.ndarray]:
    """Pixel-refined points of still images only (NaN elsewhere keeps the landmark), and
    the lid-margin confidence (N, 2 eyes, 2 ratios) that goes with them (NaN: not refined).

    On compressed video frames the sub-pixel search is noisier than the mesh it corrects:
    on symmetric_control.mp4 it tripled the frame-to-frame spread of the mouth-corner
    height difference (sd 1.6 vs 0.5 mm), which would turn jitter into findings over time,
    so the landmark pass does not refine video frames at all (their refined_xy is null).
    """
    no_confidence = np.full((frames.height, len(LID_CONFIDENCE), 2), np.nan)
    if "refined_xy" not in frames.columns or frames.height == 0:
        return None, no_confidence
    width = frames.schema["refined_xy"].size // 2
    block = frames["refined_xy"].to_numpy().reshape(frames.height, width, 2)
    block = block.astype(np.float64)
    if stills is not None:
        block[~frames["media_id"].is_in(stills.implode()).to_numpy()] = np.nan
    # A table written before the lid confidence was stored holds the points only.
    slot = {key: k for k, key in enumerate(REFINED_POINTS[:width])}
    points = {index: block[:, slot[index]] for index in REFINED_LANDMARKS}
    if not all(key in slot for key in LID_CONFIDENCE):
        return points, no_confidence
    return points, np.stack([block[:, slot[key]] for key in LID_CONFIDENCE], axis=1)


def still_media(inventory: pl.DataFrame) -> pl.Series:
    return inventory.filter(pl.col("kind") == "image")["media_id"]


def symmetry_table(frames: pl.DataFrame, stills: pl.Series | None = None) -> pl.DataFrame:
    """`symmetry_features` of quality-passed landmark rows, with the frame keys; `stills`
    are the media ids whose refined points are used (None: every frame's). Eye measures of
    a still whose lid margin is ambiguous are withheld (`symmetry.EYE_GATE_COLUMN`)."""
    keys = frames.select(KEYS)
    if frames.height == 0:
        empty = empty_symmetry_frame(corner_positions=True, lid_gate=True)
        return pl.concat([keys, empty], how="horizontal")
    arrays = landmark_arrays(frames)
    refined, lid_confidence = _refined(frames, stills)
    symmetry = symmetry_features(
        arrays["landmarks"],
        arrays["frame_width"],
        arrays["frame_height"],
        arrays["transform"],
        refined=refined,
        corner_positions=True,
        lid_confidence=lid_confidence,
    )
    return pl.concat([keys, symmetry], how="horizontal")


def functional_table(frames: pl.DataFrame, symmetry: pl.DataFrame) -> pl.DataFrame:
    """`functional_features` of the same frames: blendshape asymmetries, region scores
    (which use the symmetry measures) and each side's raw paired blendshape scores."""
    keys = frames.select(KEYS)
    aligned = keys.join(symmetry, on=list(KEYS), how="left", maintain_order="left")
    blendshapes = (
        landmark_arrays(frames)["blendshapes"]
        if frames.height
        else np.zeros((0, len(BLENDSHAPE_NAMES)))
    )
    functional = functional_features(blendshapes, aligned.drop(KEYS) if frames.height else None)
    index = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
    raw = pl.DataFrame(
        {f"bs_{n}": blendshapes[:, index[n]].astype(np.float64) for n in RAW_BLENDSHAPES}
    )
    return pl.concat([keys, functional, raw], how="horizontal")


def frame_features(symmetry: pl.DataFrame, functional: pl.DataFrame) -> pl.DataFrame:
    """Per frame: every symmetry column and the functional columns it lacks (blendshape
    asymmetries and raw scores), joined on the frame keys both tables carry."""
    keys = [k for k in KEYS if k in symmetry.columns and k in functional.columns]
    extra = [c for c in functional.columns if c not in symmetry.columns or c in keys]
    return symmetry.join(functional.select(extra), on=keys, how="left")


def media_feature_table(
    symmetry: pl.DataFrame, functional: pl.DataFrame, inventory: pl.DataFrame
) -> pl.DataFrame:
    """One row per analysed media file: robust summaries and range of motion, with the
    file's path, kind, label and subject for modelling."""
    raw = [c for c in functional.columns if c.removeprefix("bs_") in RAW_BLENDSHAPES]
    # Rows keep the landmark table's order (media_id, frame_index) whatever polars' threads
    # do: a join keeps no order unless asked.
    joined = symmetry.join(
        functional.drop(*raw), on=list(KEYS), how="inner", maintain_order="left"
    ).join(
        inventory.select("media_id", "kind").unique("media_id", maintain_order=True),
        on="media_id",
        how="left",
        maintain_order="left",
    )
    summary = summarise_media(joined)
    info_columns = ["media_id", "relpath", "label", "subject_id", "phash"]
    info = (
        inventory.filter(pl.col("status") == "ok")
        .select(info_columns)
        .unique("media_id", maintain_order=True)
    )
    return summary.join(info, on="media_id", how="inner", maintain_order="left").select(
        "dataset", *info_columns, pl.all().exclude("dataset", *info_columns)
    )
