"""Crop arrays for the image models: aligned crops of many frames stacked per crop name
(cut from images, or read back from the `region_crops` files), kept as uint8 until a batch
is taken, plus the light augmentation used in training."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch

from facesym_pipeline.lib.image_models.crops import (
    MIRRORED_SUFFIX,
    PAIRED_REGIONS,
    REGIONS,
    aligned_crops,
    read_crop,
)

# Fixed scaling of 0..255 to about -2..2 (the same for every image: no per-image
# normalisation, so a network can see brightness if it wants to).
PIXEL_MEAN, PIXEL_SCALE = 127.5, 64.0


@dataclass
class CropArrays:
    """crops[name]: (N, H, W, 3) uint8; `ok`: which input rows gave crops (the arrays hold
    only those rows, in input order)."""

    crops: dict[str, np.ndarray]
    ok: np.ndarray

    def __len__(self) -> int:
        return len(next(iter(self.crops.values()))) if self.crops else 0

    def take(self, index) -> CropArrays:
        """Rows `index` of the arrays (a new set in which every row is ok)."""
        crops = {k: v[index] for k, v in self.crops.items()}
        n = len(next(iter(crops.values()))) if crops else 0
        return CropArrays(crops, np.ones(n, dtype=bool))


def crop_arrays(
    items: Iterable[tuple[np.ndarray, np.ndarray | None]],
    regions: Sequence[str] = tuple(REGIONS),
    paired: Sequence[str] = PAIRED_REGIONS,
) -> CropArrays:
    """Stack the aligned crops of (rgb, landmarks) items; items without landmarks, or whose
    face is too small to crop, are left out and marked in `ok`."""
    stacks: dict[str, list[np.ndarray]] = {}
    ok = []
    for rgb, landmarks in items:
        if landmarks is None:
            ok.append(False)
            continue
        try:
            crops = aligned_crops(rgb, landmarks, regions, paired)
        except ValueError:
            ok.append(False)
            continue
        ok.append(True)
        for name, crop in crops.items():
            stacks.setdefault(name, []).append(crop)
    arrays = {k: np.stack(v) for k, v in stacks.items()}
    return CropArrays(arrays, np.asarray(ok, dtype=bool))


def to_tensor(batch: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, H, W) float32 on `device`, fixed scaling."""
    t = torch.from_numpy(np.ascontiguousarray(batch)).to(device)
    # Contiguous NCHW: the permuted (channels-last strided) view crashed this torch CPU
    # build's convolution backward on some batches (heap corruption in the region network).
    return ((t.permute(0, 3, 1, 2).float() - PIXEL_MEAN) / PIXEL_SCALE).contiguous()


def tensor_batch(
    arrays: CropArrays, names: Sequence[str], index, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    return {name: to_tensor(arrays.crops[name][index], device) for name in names}


def _shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    if dx == 0 and dy == 0:
        return x
    pad = max(abs(dx), abs(dy))
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
    h, w = x.shape[-2:]
    return padded[..., pad + dy : pad + dy + h, pad + dx : pad + dx + w]


def augment(
    batch: Mapping[str, torch.Tensor],
    generator: torch.Generator,
    flip: bool = True,
    max_shift: int = 3,
) -> dict[str, torch.Tensor]:
    """Geometric augmentation only (no brightness or colour jitter, which would hide the
    shortcut the audit is meant to expose). Mirroring the face turns `r` into what
    `r_mirrored` was and vice versa (`crops` module docstring), so a pair is swapped, and a
    crop without its counterpart in the batch is flipped; the whole batch shares one shift
    per step so that the two halves of a pair stay aligned."""
    out = dict(batch)
    if flip and bool(torch.rand((), generator=generator) < 0.5):
        out = {name: _mirror_face(name, out) for name in out}
    if max_shift > 0:
        dx, dy = (
            int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=generator)
        )
        out = {name: _shift(x, dx, dy) for name, x in out.items()}
    return out


def _mirror_face(name: str, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """What crop `name` shows once the whole face is mirrored."""
    base = name.removesuffix(MIRRORED_SUFFIX)
    partner = base if base != name else name + MIRRORED_SUFFIX
    if partner in batch:
        return batch[partner]
    return torch.flip(batch[name], dims=(-1,))


def crop_arrays_from_index(
    index: pl.DataFrame, crops_dir: Path, media_ids: list[str]
) -> CropArrays:
    """Stacked crops of `media_ids` (in that order) from the `region_crops` files."""
    by_media = index.filter(pl.col("frame_index") == 0).group_by("media_id").agg("region", "path")
    lookup = {
        r["media_id"]: dict(zip(r["region"], r["path"], strict=True))
        for r in by_media.iter_rows(named=True)
    }
    names = sorted(next(iter(lookup.values())).keys()) if lookup else []
    ok = np.array([m in lookup for m in media_ids], dtype=bool)
    crops = {
        name: np.stack([read_crop(crops_dir / lookup[m][name]) for m in media_ids if m in lookup])
        for name in names
    }
    return CropArrays(crops, ok)
