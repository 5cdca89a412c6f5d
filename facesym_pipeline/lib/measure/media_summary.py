"""One row per media file from its per-frame features.

Every numeric feature column F (keys and helper columns excluded) gives:
- F: the frame's value for an image; the median over the frames for a video;
- F_p90_abs: 90th percentile of |F| over the frames (|F| for an image);
- F_frac_out: fraction of frames with |F| beyond the healthy limit (only for features that
  have one; the registry's default limits unless `healthy_ranges` is given).
Range of motion (needs the mouth-corner position columns of
`symmetry_features(..., corner_positions=True)` and `blendshape_activation`):
- mouth_excursion_left_mm / _right_mm: 95th percentile over frames of each mouth corner's
  distance from its position in the most neutral frame (lowest blendshape activation);
- mouth_rom_ratio: weaker / stronger excursion, null when the stronger moves < 1 mm.
A media is a video when the optional `kind` column says so, else when it has several frames.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.measure.registry import default_limits
from facesym_pipeline.lib.measure.symmetry import CORNER_COLUMNS

KEY_COLUMNS = ("dataset", "media_id", "frame_index", "t_s", "kind")
ROM_COLUMNS = ("mouth_excursion_left_mm", "mouth_excursion_right_mm", "mouth_rom_ratio")
MIN_STRONGER_EXCURSION_MM = 1.0
_NEUTRAL_COLUMN = "blendshape_activation"


def _feature_columns(frame: pl.DataFrame) -> list[str]:
    skip = set(KEY_COLUMNS) | set(CORNER_COLUMNS) | {_NEUTRAL_COLUMN}
    return [name for name, dtype in frame.schema.items() if name not in skip and dtype.is_numeric()]


def _range_of_motion(group: pl.DataFrame) -> dict[str, float | None]:
    out: dict[str, float | None] = dict.fromkeys(ROM_COLUMNS)
    if not set(CORNER_COLUMNS) <= set(group.columns) or group.height < 2:
        return out
    corners = group.select(CORNER_COLUMNS).cast(pl.Float64).fill_null(np.nan).to_numpy()
    valid = np.isfinite(corners).all(axis=1)
    if valid.sum() < 2:
        return out
    corners = corners[valid]
    if _NEUTRAL_COLUMN in group.columns:
        activation = group[_NEUTRAL_COLUMN].cast(pl.Float64).fill_null(np.inf).to_numpy()
        neutral = int(np.argmin(activation[valid]))
    else:
        neutral = 0
    moved = corners - corners[neutral]
    left = float(np.percentile(np.hypot(moved[:, 0], moved[:, 1]), 95))
    right = float(np.percentile(np.hypot(moved[:, 2], moved[:, 3]), 95))
    out["mouth_excursion_left_mm"] = left
    out["mouth_excursion_right_mm"] = right
    stronger = max(left, right)
    if stronger >= MIN_STRONGER_EXCURSION_MM:
        out["mouth_rom_ratio"] = min(left, right) / stronger
    return out


def _summarise_group(group: pl.DataFrame, features: list[str], limits: dict[str, float]) -> dict:
    kinds = group["kind"].unique().to_list() if "kind" in group.columns else []
    is_video = ("video" in kinds) if kinds else group.height > 1
    row: dict = {"kind": "video" if is_video else "image", "n_frames": group.height}
    if group.height == 0:
        return row
    for name in features:
        values = group[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            row[name] = row[f"{name}_p90_abs"] = None
            if name in limits:
                row[f"{name}_frac_out"] = None
            continue
        row[name] = float(np.median(finite)) if is_video else float(finite[0])
        row[f"{name}_p90_abs"] = float(np.percentile(np.abs(finite), 90))
        if name in limits:
            row[f"{name}_frac_out"] = float(np.mean(np.abs(finite) > limits[name]))
    row.update(_range_of_motion(group) if is_video else dict.fromkeys(ROM_COLUMNS))
    return row


def summarise_media(
    frame_features: pl.DataFrame, healthy_ranges: dict[str, float] | None = None
) -> pl.DataFrame:
    """One row per media_id (per dataset and media_id when a dataset column is present),
    in order of first appearance; frames are taken in frame_index order when it is given.
    `healthy_ranges` maps feature name -> healthy |value| limit and replaces the defaults."""
    limits = default_limits() if healthy_ranges is None else dict(healthy_ranges)
    keys = [k for k in ("dataset", "media_id") if k in frame_features.columns]
    if "media_id" not in keys:
        raise ValueError("frame_features needs a media_id column")
    features = _feature_columns(frame_features)
    order = frame_features.select(keys).unique(maintain_order=True)
    rows = []
    for key_values in order.iter_rows():
        mask = pl.all_horizontal([pl.col(k) == v for k, v in zip(keys, key_values, strict=True)])
        group = frame_features.filter(mask)
        if "frame_index" in group.columns:
            group = group.sort("frame_index", maintain_order=True)
        rows.append(
            dict(zip(keys, key_values, strict=True)) | _summarise_group(group, features, limits)
        )
    schema: dict = {k: frame_features.schema[k] for k in keys}
    schema |= {"kind": pl.String, "n_frames": pl.Int64}
    for name in features:
        schema[name] = pl.Float64
        schema[f"{name}_p90_abs"] = pl.Float64
        if name in limits:
            schema[f"{name}_frac_out"] = pl.Float64
    schema |= {name: pl.Float64 for name in ROM_COLUMNS}
    return pl.DataFrame(rows, schema=schema)
