"""Counterfactual test sets for the shortcut audit.

Each set holds the same held-out faces with one nuisance factor changed and the asymmetry
label kept, so that a model whose answer changes has used that factor:

- `lighting`: random gamma, per-channel gain and contrast, drawn independently of the label;
- `background_blur` / `background_grey`: everything outside the face hull (convex hull of
  the landmarks, slightly enlarged) blurred or replaced by flat grey;
- `jpeg`: every image re-compressed at a low quality;
- `flip`: mirrored horizontally; the asymmetry moves to the other side, the label stays;
- `asymmetry_removed`: for every asymmetric image, its subject's symmetric original given
  the same nuisance as the asymmetric image (the same gamma, roll, noise level or JPEG
  quality, and the class's confound when it had one). The correct answer for such a twin
  is "no asymmetry" (label 0): it keeps every cue of its class except the asymmetry. The
  asymmetric images themselves are kept in the set as the twins' matched positives, so
  AUC and balanced accuracy are defined and a shortcut model scores about chance;
- `confound_broken`: the class-linked confound reversed: images that carry it (darker,
  more compressed) are brightened and re-saved at good quality, the others are darkened
  and compressed like them.

Every set is a list of `Sample` (image, label, subject_id, meta, landmarks). Landmarks of
a transformed image are not carried over: `attach_landmarks` detects them again, as the
pipeline would on a new image.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

import cv2
import numpy as np

from facesym_pipeline.lib.face.landmarker import frame_result, to_mp_image
from facesym_pipeline.lib.image_models.crops import landmarks_to_pixels
from facesym_pipeline.lib.media.perturb import (
    CONFOUND_GAMMA,
    CONFOUND_JPEG_QUALITY,
    JPEG_QUALITY,
    add_noise,
    apply_gamma,
    jpeg_roundtrip,
    small_pose_change,
)

IN_DISTRIBUTION = "in_distribution"
LOW_JPEG_QUALITY = 30
HULL_GROWTH = 1.08  # the hull is enlarged about its centre so hairline and jaw edge stay


class Sample(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8 RGB
    label: int
    subject_id: str
    meta: dict  # at least sample_id; the dataset's row fields; what was changed
    landmarks: np.ndarray | None = None  # (478, 3) normalised, detected on this image


def _derive(sample: Sample, image: np.ndarray, set_name: str, **changes) -> Sample:
    meta = (
        dict(sample.meta)
        | changes
        | {
            "set": set_name,
            "sample_id": f"{set_name}:{sample.meta['sample_id']}",
            "source_sample_id": sample.meta["sample_id"],
        }
    )
    return Sample(image, sample.label, sample.subject_id, meta)


def _rng(seed: int, sample: Sample, salt: str) -> np.random.Generator:
    import zlib

    return np.random.default_rng([seed, zlib.crc32(f"{salt}:{sample.meta['sample_id']}".encode())])


def change_lighting(
    rgb: np.ndarray, gamma: float, gains: Sequence[float], contrast: float
) -> np.ndarray:
    """Gamma, then per-channel gain, then contrast about the image mean."""
    x = (rgb.astype(np.float32) / 255.0) ** gamma
    x = x * np.asarray(gains, np.float32)
    mean = x.mean()
    x = (x - mean) * contrast + mean
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def lighting_set(samples: Iterable[Sample], seed: int = 0) -> list[Sample]:
    out = []
    for s in samples:
        rng = _rng(seed, s, "lighting")
        gamma = float(np.exp(rng.uniform(np.log(0.7), np.log(1.45))))
        gains = rng.uniform(0.85, 1.15, size=3)
        contrast = float(rng.uniform(0.7, 1.3))
        image = change_lighting(s.image, gamma, gains, contrast)
        change = (
            f"gamma={gamma:.2f};gains={','.join(f'{g:.2f}' for g in gains)};contrast={contrast:.2f}"
        )
        out.append(_derive(s, image, "lighting", change=change))
    return out


def face_hull_mask(
    rgb_shape: tuple[int, ...], landmarks: np.ndarray, growth: float = HULL_GROWTH
) -> np.ndarray:
    """uint8 mask (255 inside) of the landmarks' convex hull, enlarged about its centroid."""
    height, width = rgb_shape[:2]
    px = landmarks_to_pixels(landmarks, width, height)
    hull = cv2.convexHull(px.astype(np.float32)).reshape(-1, 2)
    centre = hull.mean(axis=0)
    hull = centre + (hull - centre) * growth
    mask = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(mask, np.rint(hull).astype(np.int32), 255)
    return mask


def replace_background(rgb: np.ndarray, landmarks: np.ndarray, mode: str = "blur") -> np.ndarray:
    """Keep the face hull; outside it, a strong blur (`blur`) or flat mid-grey (`grey`),
    with a soft seam."""
    mask = face_hull_mask(rgb.shape, landmarks).astype(np.float32) / 255.0
    mask = cv2.GaussianBlur(mask, (0, 0), 3.0)[..., None]
    if mode == "blur":
        sigma = max(rgb.shape[:2]) / 40
        background = cv2.GaussianBlur(rgb, (0, 0), sigma).astype(np.float32)
    elif mode == "grey":
        background = np.full_like(rgb, 128, dtype=np.float32)
    else:
        raise ValueError(f"mode must be 'blur' or 'grey', not {mode!r}")
    out = rgb.astype(np.float32) * mask + background * (1.0 - mask)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def background_set(samples: Iterable[Sample], mode: str = "blur") -> list[Sample]:
    """Needs each sample's landmarks (those without are left out: no face hull to keep)."""
    return [
        _derive(
            s, replace_background(s.image, s.landmarks, mode), f"background_{mode}", change=mode
        )
        for s in samples
        if s.landmarks is not None
    ]


def jpeg_set(samples: Iterable[Sample], quality: int = LOW_JPEG_QUALITY) -> list[Sample]:
    return [
        _derive(s, jpeg_roundtrip(s.image, quality), "jpeg", change=f"jpeg_quality={quality}")
        for s in samples
    ]


def flip_set(samples: Iterable[Sample]) -> list[Sample]:
    """Mirrored images: a subject's left droop becomes a right droop; the label is kept."""
    out = []
    for s in samples:
        side = s.meta.get("side")
        swapped = {"left": "right", "right": "left"}.get(side, side)
        out.append(
            _derive(s, np.ascontiguousarray(s.image[:, ::-1]), "flip", change="hflip", side=swapped)
        )
    return out


_FIELD = re.compile(r"([a-z_]+)=([-0-9.]+)")


def reapply_nuisance(
    rgb: np.ndarray, description: str, centre_xy: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Apply the nuisance recorded by `demo_data` (its `nuisance` column) to another image
    of the same subject; returns (image, JPEG quality). Noise is redrawn at the same sigma."""
    fields = {k: float(v) for k, v in _FIELD.findall(description or "")}
    if "noise_sigma" in fields:
        return add_noise(rgb, rng, fields["noise_sigma"]), JPEG_QUALITY
    if "roll_deg" in fields:
        return small_pose_change(
            rgb, centre_xy, fields["roll_deg"], fields.get("scale", 1.0)
        ), JPEG_QUALITY
    if "gamma" in fields:
        return apply_gamma(rgb, fields["gamma"], fields.get("gain", 1.0)), JPEG_QUALITY
    if "jpeg_quality" in fields:
        return rgb, int(fields["jpeg_quality"])
    return rgb, JPEG_QUALITY


def asymmetry_removed_set(
    samples: Sequence[Sample],
    originals: Mapping[str, Sample],
    seed: int = 0,
    confound_gamma: float = CONFOUND_GAMMA,
    confound_quality: int = CONFOUND_JPEG_QUALITY,
) -> list[Sample]:
    """For each asymmetric sample whose `source_file` has a symmetric original in
    `originals` (source_file -> Sample with landmarks), a twin made from that original with
    the asymmetric sample's nuisance and confound, labelled 0; each asymmetric sample is
    kept too (label 1, role "asymmetric") as the twin's matched positive."""
    out = []
    for s in samples:
        if s.label != 1:
            continue
        original = originals.get(s.meta.get("source_file"))
        if original is None or original.landmarks is None:
            continue
        h, w = original.image.shape[:2]
        centre = landmarks_to_pixels(original.landmarks, w, h).mean(axis=0)
        rng = _rng(seed, s, "twin")
        image, quality = reapply_nuisance(original.image, s.meta.get("nuisance", ""), centre, rng)
        if s.meta.get("confound"):
            image = apply_gamma(image, confound_gamma)
            quality = min(quality, confound_quality)
        twin = _derive(s, jpeg_roundtrip(image, quality), "asymmetry_removed", role="twin",
                       change="asymmetry removed; nuisance and confound kept",
                       droop_mm=0.0, ptosis_mm=0.0)  # fmt: skip
        twin.meta["sample_id"] += ":twin"
        out.append(twin._replace(label=0))
        kept = _derive(s, s.image, "asymmetry_removed", role="asymmetric", change="none")
        out.append(kept._replace(landmarks=s.landmarks))
    return out


def confound_broken_set(
    samples: Iterable[Sample],
    gamma: float = CONFOUND_GAMMA,
    quality: int = CONFOUND_JPEG_QUALITY,
    clean_quality: int = JPEG_QUALITY,
) -> list[Sample]:
    """Reverse the class-linked confound: samples flagged `confound` get the inverse gamma
    and a good-quality re-save; the others get the confound's gamma and JPEG quality."""
    out = []
    for s in samples:
        if s.meta.get("confound"):
            image = jpeg_roundtrip(apply_gamma(s.image, 1.0 / gamma), clean_quality)
            change = f"brightened gamma=1/{gamma:g}; jpeg_quality={clean_quality}"
        else:
            image = jpeg_roundtrip(apply_gamma(s.image, gamma), quality)
            change = f"darkened gamma={gamma:g}; jpeg_quality={quality}"
        out.append(_derive(s, image, "confound_broken", change=change))
    return out


def originals_by_source(samples: Iterable[Sample]) -> dict[str, Sample]:
    """source_file -> the unaltered symmetric sample (kind "original") of that source."""
    return {
        s.meta["source_file"]: s
        for s in samples
        if s.meta.get("kind") == "original" and s.meta.get("source_file") is not None
    }


def build_counterfactual_sets(
    samples: Sequence[Sample], seed: int = 0, include_in_distribution: bool = True
) -> dict[str, list[Sample]]:
    """All sets for the held-out `samples` (which need landmarks for the background and
    asymmetry-removed sets). Keys: in_distribution (unless excluded), lighting,
    background_blur, background_grey, jpeg, flip, asymmetry_removed, confound_broken."""
    sets: dict[str, list[Sample]] = {}
    if include_in_distribution:
        sets[IN_DISTRIBUTION] = list(samples)
    sets["lighting"] = lighting_set(samples, seed)
    sets["background_blur"] = background_set(samples, "blur")
    sets["background_grey"] = background_set(samples, "grey")
    sets["jpeg"] = jpeg_set(samples)
    sets["flip"] = flip_set(samples)
    sets["asymmetry_removed"] = asymmetry_removed_set(samples, originals_by_source(samples), seed)
    sets["confound_broken"] = confound_broken_set(samples)
    return sets


def detect_landmarks(landmarker, rgb: np.ndarray) -> np.ndarray | None:
    """(478, 3) normalised landmarks of the largest face, or None."""
    result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0)
    return result.landmarks if result.status == "ok" else None


def attach_landmarks(
    samples: Iterable[Sample], landmarker, detect: Callable = detect_landmarks
) -> list[Sample]:
    """Samples with landmarks detected on their own image (None where no face is found);
    samples that already have landmarks keep them."""
    out = []
    for s in samples:
        if s.landmarks is not None:
            out.append(s)
        else:
            out.append(s._replace(landmarks=detect(landmarker, s.image)))
    return out
