"""A Kaggle-shaped demo image dataset made from real frontal faces, with known injected
asymmetry as ground truth.

Layout: `stroke_data/*.jpg` (mouth-corner droop, upper-lid ptosis or both, one side, a few
severities in mm), `noStroke_data/*.jpg` (the same faces left symmetric), and
`labels.csv` with the injected parameters. Both classes receive the same kinds of
nuisance (noise, small pose change, lighting, JPEG) drawn from the same distribution, so
that nothing but the asymmetry separates them, unless `confound=True` deliberately makes
the stroke class darker and more compressed (as scraped collections often are) for a
shortcut audit. Everything is seeded; a source's images depend only on the seed and that
source, so a subset run reproduces the same bytes as the full run.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from facesym_pipeline.demo import warp
from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.media.decode import load_image_rgb
from facesym_pipeline.lib.media.labels import LABELS_FILE
from facesym_pipeline.lib.media.perturb import (
    CONFOUND_GAMMA,
    CONFOUND_JPEG_QUALITY,
    JPEG_QUALITY,
    add_noise,
    apply_gamma,
    encode_jpeg,
    small_pose_change,
)

STROKE_DIR = "stroke_data"
NO_STROKE_DIR = "noStroke_data"
MAX_SIDE_PX = 640
NUISANCE_JPEG_QUALITY = 60

# (file, subject): obama.jpg and obama2.jpg are the same person.
SOURCES: tuple[tuple[str, str], ...] = (
    ("0-f1-su-ph.jpg", "f1-su"),
    ("0-f15-hao-ph.jpg", "f15-hao"),
    ("single_face.jpg", "single-face"),
    ("obama.jpg", "obama"),
    ("obama2.jpg", "obama"),
    ("biden.jpg", "biden"),
    ("astronaut.png", "astronaut"),
)
SOURCE_FILES: tuple[str, ...] = tuple(name for name, _ in SOURCES)

NUISANCES = ("none", "noise", "pose", "lighting", "jpeg")
LABEL_COLUMNS = (
    "file", "label", "subject_id", "source_file", "kind", "side", "droop_mm", "ptosis_mm",
    "nuisance", "confound",
)  # fmt: skip


@dataclass(frozen=True)
class Variant:
    kind: str  # droop | ptosis | droop+ptosis | original | noise | pose | lighting | jpeg
    side: str = "none"
    droop_mm: float = 0.0
    ptosis_mm: float = 0.0

    @property
    def label(self) -> int:
        return int(self.droop_mm > 0 or self.ptosis_mm > 0)

    @property
    def slug(self) -> str:
        parts = [self.kind.replace("+", "-")]
        if self.side != "none":
            parts.append(self.side)
        if self.droop_mm:
            parts.append(f"d{self.droop_mm:g}mm")
        if self.ptosis_mm:
            parts.append(f"p{self.ptosis_mm:g}mm")
        return "_".join(parts)


def default_variants() -> tuple[Variant, ...]:
    """12 asymmetric and 6 symmetric variants per face."""
    asym = []
    for side in ("left", "right"):
        asym += [Variant("droop", side, droop_mm=mm) for mm in (2.0, 3.5, 5.0)]
        asym += [Variant("ptosis", side, ptosis_mm=mm) for mm in (1.5, 3.0)]
        asym.append(Variant("droop+ptosis", side, droop_mm=3.5, ptosis_mm=2.0))
    sym = [Variant(kind) for kind in ("original", "noise", "pose", "pose", "lighting", "jpeg")]
    return tuple(asym + sym)


class FaceNotFoundError(RuntimeError):
    """A source image in which the landmarker found no face."""


def _source_rng(seed: int, source_file: str) -> np.random.Generator:
    # crc32 rather than hash(): str hashes are salted per process.
    return np.random.default_rng([seed, zlib.crc32(source_file.encode())])


def detect_landmarks_px(landmarker, rgb: np.ndarray, name: str) -> np.ndarray:
    """(478, 2) pixel landmarks of the largest face; raises FaceNotFoundError if none."""
    result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0)
    if result.status != "ok":
        raise FaceNotFoundError(f"no face found in source image {name!r}; cannot place the warp")
    return result.landmarks[:, :2].astype(np.float64) * (rgb.shape[1], rgb.shape[0])


def _portrait(landmarker, name: str) -> np.ndarray:
    """The source as a portrait of at most MAX_SIDE_PX. A full-length photo (taller than
    4:5) is cropped around the face first, as collected face images are: shrinking the
    whole photo would leave a face too coarse (over 1.5 mm per pixel) to measure."""
    rgb = load_image_rgb(sample_path(name), max_side=MAX_SIDE_PX)
    height, width = rgb.shape[:2]
    if height <= 1.25 * width:
        return rgb
    full = load_image_rgb(sample_path(name))
    height, width = full.shape[:2]
    crop_height = round(1.25 * width)
    centre_y = detect_landmarks_px(landmarker, full, name)[:, 1].mean()
    top = int(np.clip(round(centre_y - crop_height / 2), 0, height - crop_height))
    image = Image.fromarray(full[top : top + crop_height])
    image.thumbnail((MAX_SIDE_PX, MAX_SIDE_PX), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


def _nuisance(
    rgb: np.ndarray, kind: str, rng: np.random.Generator, centre: np.ndarray
) -> tuple[np.ndarray, int, str]:
    """Apply one nuisance; returns (image, JPEG quality, description)."""
    if kind == "noise":
        sigma = float(rng.uniform(2.0, 5.0))
        return add_noise(rgb, rng, sigma), JPEG_QUALITY, f"noise_sigma={sigma:.2f}"
    if kind == "pose":
        angle = float(rng.uniform(2.0, 4.0) * rng.choice([-1.0, 1.0]))
        scale = float(rng.uniform(0.95, 1.05))
        out = small_pose_change(rgb, centre, angle, scale)
        return out, JPEG_QUALITY, f"roll_deg={angle:.2f};scale={scale:.3f}"
    if kind == "lighting":
        gamma = float(rng.choice([rng.uniform(0.75, 0.9), rng.uniform(1.1, 1.35)]))
        gain = float(rng.uniform(0.92, 1.05))
        return apply_gamma(rgb, gamma, gain), JPEG_QUALITY, f"gamma={gamma:.2f};gain={gain:.2f}"
    if kind == "jpeg":
        return rgb, NUISANCE_JPEG_QUALITY, f"jpeg_quality={NUISANCE_JPEG_QUALITY}"
    return rgb, JPEG_QUALITY, "none"


def render_variants(
    rgb: np.ndarray,
    landmarks_px: np.ndarray,
    variants: Sequence[Variant],
    rng: np.random.Generator,
    confound: bool = False,
) -> list[tuple[Variant, bytes, str]]:
    """JPEG bytes for each variant of one face, with the nuisance applied to it."""
    centre = landmarks_px.mean(axis=0)
    out = []
    for variant in variants:
        image = rgb
        if variant.droop_mm:
            field = warp.droop_field(rgb.shape[:2], landmarks_px, variant.side, variant.droop_mm)
            image = warp.apply_fields(image, field)
        if variant.ptosis_mm:
            # The lid slides over the eye (occlusion), which no displacement field renders.
            image = warp.apply_ptosis(image, landmarks_px, variant.side, variant.ptosis_mm)
        if variant.label:
            # The asymmetric class gets the same nuisance mix as the symmetric one.
            nuisance_kind = str(rng.choice(NUISANCES))
        else:
            nuisance_kind = "none" if variant.kind == "original" else variant.kind
        image, quality, description = _nuisance(image, nuisance_kind, rng, centre)
        if confound and variant.label == 1:
            image = apply_gamma(image, CONFOUND_GAMMA)
            quality = min(quality, CONFOUND_JPEG_QUALITY)
        out.append((variant, encode_jpeg(image, quality), description))
    return out


def _write_if_changed(path: Path, data: bytes) -> None:
    """Unchanged files keep their mtime, so reruns do not look like new data."""
    if path.exists() and path.read_bytes() == data:
        return
    path.write_bytes(data)


def build_demo_images(
    out_dir: Path,
    seed: int = 7,
    confound: bool = False,
    sources: Sequence[str] | None = None,
    variants: Sequence[Variant] | None = None,
) -> pl.DataFrame:
    """Write the demo dataset under `out_dir` and return its labels table.

    `sources` restricts to some of `SOURCE_FILES` (tests); `variants` overrides
    `default_variants()`. JPEGs left over from an earlier run in the two class folders
    are removed so that the folder and labels.csv always agree.
    """
    subjects = dict(SOURCES)
    names = list(SOURCE_FILES if sources is None else sources)
    unknown = [n for n in names if n not in subjects]
    if unknown:
        raise ValueError(f"unknown demo sources {unknown}; choose from {list(SOURCE_FILES)}")
    variants = tuple(default_variants() if variants is None else variants)
    out_dir = Path(out_dir)
    for folder in (STROKE_DIR, NO_STROKE_DIR):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)

    rows = []
    with create_landmarker(resolve_model()) as landmarker:
        for name in names:
            rgb = _portrait(landmarker, name)
            landmarks_px = detect_landmarks_px(landmarker, rgb, name)
            rng = _source_rng(seed, name)
            stem = Path(name).stem
            rendered = render_variants(rgb, landmarks_px, variants, rng, confound)
            for index, (variant, data, nuisance) in enumerate(rendered):
                folder = STROKE_DIR if variant.label else NO_STROKE_DIR
                rel = f"{folder}/{stem}__{index:02d}_{variant.slug}.jpg"
                _write_if_changed(out_dir / rel, data)
                rows.append(
                    {
                        "file": rel,
                        "label": variant.label,
                        "subject_id": subjects[name],
                        "source_file": name,
                        "kind": variant.kind,
                        "side": variant.side,
                        "droop_mm": float(variant.droop_mm),
                        "ptosis_mm": float(variant.ptosis_mm),
                        "nuisance": nuisance,
                        "confound": bool(confound and variant.label == 1),
                    }
                )
    labels = pl.DataFrame(rows, schema_overrides={"label": pl.Int8}).select(LABEL_COLUMNS)
    keep = set(labels["file"].to_list())
    for folder in (STROKE_DIR, NO_STROKE_DIR):
        for stale in sorted((out_dir / folder).glob("*.jpg")):
            if f"{folder}/{stale.name}" not in keep:
                stale.unlink()
    _write_if_changed(out_dir / LABELS_FILE, labels.write_csv().encode())
    return labels
