"""The two datasets of the normative population (see `demo/population.py`).

* `reference`: every person as fetched: the 158 portraits, copied byte for byte and named
  by subject id, and the two videos. `labels.csv`: label 0 (healthy), one subject id per
  person, the population file it came from and its licence.
* `reference-injected`: a known asymmetry injected into every portrait: mouth-corner
  droop of 1, 2, 3, 4 mm and upper-lid ptosis of 1, 2, 3 mm, each by both renderers
  registered for it in `RENDERERS`, on one side per person. Everyone is included, fit and
  held-out alike; whoever fits or reports filters by `lib/measure/reference_split.py`.
  Besides the nominal size (`droop_mm`, `ptosis_mm`) each row holds the ground truth in
  the measure's units at the point it reads (`droop_gt_mm`, `ptosis_gt_mm`, see
  `TRUTH_COLUMN`), which calibration compares with.

Why `reference-injected` also holds each person's untouched image (`kind == "original"`):
`measurement_calibration` compares an injected image with the same face's original within
one partition (`lib/measure/calibration.py` pairs rows of one labels.csv by
`source_file`), and a partition's assets read only that partition. The original here is
not the reference file again: it goes through exactly what the injected images go through
(decode, JPEG re-encode at the same quality) with no warp, so the measured change between
the two is the injected asymmetry alone, not a difference in compression.

A portrait in which MediaPipe finds no face, or an injection a face cannot take (a ptosis
larger than the lid gap allows, a mesh warp that would fold, a degenerate iris), is left
out: fewer rows, never an error; the builder counts the refused injections.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from facesym_pipeline.demo import warp
from facesym_pipeline.demo.images import FaceNotFoundError, _write_if_changed
from facesym_pipeline.demo.lid_shift import lid_margin_shift_ptosis
from facesym_pipeline.demo.mesh_warp import mesh_warp_droop
from facesym_pipeline.demo.population import (
    PopulationFile,
    population_files,
    population_path,
    sources,
)
from facesym_pipeline.demo.rendering import Renderer, Rendering
from facesym_pipeline.lib.face.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.refine import REFINED_LANDMARKS, refine_points
from facesym_pipeline.lib.measure.calibration import SIDE_SIGN
from facesym_pipeline.lib.measure.reference_split import INJECTED_DATASET, REFERENCE_DATASET
from facesym_pipeline.lib.measure.symmetry import symmetry_features
from facesym_pipeline.lib.media.decode import load_image_rgb
from facesym_pipeline.lib.media.labels import LABELS_FILE
from facesym_pipeline.lib.media.perturb import JPEG_QUALITY, encode_jpeg

REFERENCE = REFERENCE_DATASET
REFERENCE_INJECTED = INJECTED_DATASET
MAX_SIDE_PX = 640


def _droop_displacement_field(rgb: np.ndarray, pts: np.ndarray, side: str, mm: float):
    image = warp.apply_fields(rgb, warp.droop_field(rgb.shape[:2], pts, side, mm))
    return Rendering(image, lambda points: warp.droop_displacement_at(points, pts, side, mm))


def _ptosis_occluding_lid(rgb: np.ndarray, pts: np.ndarray, side: str, mm: float):
    image = warp.apply_ptosis(rgb, pts, side, mm)
    return Rendering(image, lambda points: warp.ptosis_displacement_at(points, pts, side, mm))


# Every renderer of every asymmetry, keyed by (asymmetry, renderer name). Calibration is
# reported per renderer: two renderers built on different mechanisms (a smooth field vs a
# piecewise-affine mesh warp; a painted lid vs a displaced one) tell the instrument's
# errors apart from one renderer's artefacts.
RENDERERS: dict[tuple[str, str], Renderer] = {
    ("droop", "displacement_field"): _droop_displacement_field,
    ("droop", "mesh_warp"): mesh_warp_droop,
    ("ptosis", "occluding_lid"): _ptosis_occluding_lid,
    ("ptosis", "lid_margin_shift"): lid_margin_shift_ptosis,
}
INJECTED_MM: dict[str, tuple[float, ...]] = {
    "droop": (1.0, 2.0, 3.0, 4.0),
    "ptosis": (1.0, 2.0, 3.0),
}
# The labels.csv column holding each asymmetry's size (what calibration reads).
MM_COLUMN = {"droop": "droop_mm", "ptosis": "ptosis_mm"}
# Ground truth in the units the measure reports, at the point it reads: the measure's
# change when the original's refined points move exactly as the renderer moved their
# content (the rest of the face held). It differs from the nominal size by the renderer's
# fall-off between the landmark it was sized on and the refined point (a few %) and by
# frontalisation (cos of the pitch). Ptosis moves neither the iris centre nor the lower
# lid, so one truth serves the fissure and MRD1.
TRUTH_COLUMN = {"droop": "droop_gt_mm", "ptosis": "ptosis_gt_mm"}
TRUTH_MEASURE = {"droop": "mouth_corner_height_diff_mm", "ptosis": "eye_opening_diff_mm"}

REFERENCE_COLUMNS = ("file", "label", "subject_id", "source_file", "kind", "licence")
INJECTED_COLUMNS = (
    "file", "label", "subject_id", "source_file", "kind", "renderer", "side", "injected_mm",
    "droop_mm", "ptosis_mm", "droop_gt_mm", "ptosis_gt_mm", "licence",
)  # fmt: skip


@dataclass(frozen=True)
class Injection:
    kind: str  # droop | ptosis | original
    renderer: str  # a key of RENDERERS' names, "none" for the original
    mm: float = 0.0

    def slug(self, side: str) -> str:
        if self.kind == "original":
            return "original"
        return f"{self.kind}_{self.renderer}_{self.mm:g}mm_{side}"


def default_injections() -> tuple[Injection, ...]:
    """The original, then every size of every asymmetry by each of its renderers."""
    out = [Injection("original", "none")]
    for kind, renderer in RENDERERS:
        out += [Injection(kind, renderer, mm) for mm in INJECTED_MM[kind]]
    return tuple(out)


def injection_side(subject_id: str) -> str:
    """The subject's side that gets every asymmetry of this person.

    From the id alone, so a subset build agrees with the full one: by the parity of the
    trailing number (consecutive portraits alternate left/right, so both sides are
    about equally common in any range of people), else by a bit of the id's sha256.
    """
    match = re.search(r"(\d+)$", subject_id)
    if match:
        bit = int(match.group(1)) % 2
    else:
        bit = int(hashlib.sha256(subject_id.encode()).hexdigest(), 16) % 2
    return "left" if bit == 0 else "right"


def _select(subjects: Sequence[str] | None, kind: str | None = None) -> list[PopulationFile]:
    entries = [f for f in population_files() if kind is None or f.kind == kind]
    if subjects is None:
        return entries
    known = {f.subject_id for f in entries}
    unknown = sorted(set(subjects) - known)
    if unknown:
        raise ValueError(f"unknown population subjects {unknown}")
    wanted = set(subjects)
    return [f for f in entries if f.subject_id in wanted]


def _remove_stale(out_dir: Path, keep: set[str]) -> None:
    """Media left from an earlier build that labels.csv no longer names."""
    for path in sorted(out_dir.iterdir()):
        if path.is_file() and path.name != LABELS_FILE and path.name not in keep:
            path.unlink()


def _write_labels(out_dir: Path, rows: list[dict], columns: Sequence[str]) -> pl.DataFrame:
    if rows:
        labels = pl.DataFrame(rows, schema_overrides={"label": pl.Int8}).select(columns)
    else:
        labels = pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    _remove_stale(out_dir, set(labels["file"].to_list()))
    _write_if_changed(out_dir / LABELS_FILE, labels.write_csv().encode())
    return labels


def build_reference(out_dir: Path, subjects: Sequence[str] | None = None) -> pl.DataFrame:
    """Copy the population (or the given subject ids) into `out_dir`; return labels.csv."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    licences = {name: s.licence for name, s in sources().items()}
    rows = []
    for entry in _select(subjects):
        src = population_path(entry)
        name = f"{entry.subject_id}{src.suffix.lower()}"
        target = out_dir / name
        # Copied, not linked: the inventory refuses links that leave the dataset.
        if not target.is_file() or target.stat().st_size != src.stat().st_size:
            shutil.copyfile(src, target)
        rows.append(
            {
                "file": name,
                "label": 0,
                "subject_id": entry.subject_id,
                "source_file": entry.file,
                "kind": "original",
                "licence": licences[entry.source],
            }
        )
    return _write_labels(out_dir, rows, REFERENCE_COLUMNS)


def _landmarks(landmarker, rgb: np.ndarray, name: str) -> np.ndarray:
    """(478, 3) landmarks of the largest face, normalised as MediaPipe gives them."""
    result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0, refine=False)
    if result.status != "ok":
        raise FaceNotFoundError(f"no face found in source image {name!r}; cannot place the warp")
    return result.landmarks.astype(np.float64)


def measured_points(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(len(REFINED_LANDMARKS), 2) pixel points the measures read on this image."""
    refined = refine_points(rgb, landmarks)
    return np.array([refined[i] for i in REFINED_LANDMARKS])


def ground_truth_mm(
    shape_hw: tuple[int, int],
    landmarks: np.ndarray,
    points: np.ndarray,
    rendering: Rendering,
    kind: str,
    side: str,
) -> float:
    """The injected change in `TRUTH_MEASURE[kind]`'s own units at the original's
    `measured_points` (see `TRUTH_COLUMN`), as a size: positive when the asymmetry is where
    it was put (the sign convention of `droop_mm`/`ptosis_mm`)."""
    moved = points + rendering.displacement_px(points)
    # Two frames: the original's points, then the same points moved.
    measured = symmetry_features(
        np.stack([landmarks, landmarks]),
        shape_hw[1],
        shape_hw[0],
        refined={i: np.stack([points[k], moved[k]]) for k, i in enumerate(REFINED_LANDMARKS)},
    )[TRUTH_MEASURE[kind]]
    return float(SIDE_SIGN[side] * (measured[1] - measured[0]))


def build_reference_injected(
    out_dir: Path,
    subjects: Sequence[str] | None = None,
    injections: Sequence[Injection] | None = None,
    refused: Counter | None = None,
) -> pl.DataFrame:
    """Write each portrait's original and injected images into `out_dir`; return labels.csv.

    Nothing is random: a person's images depend only on the portrait, the person's side
    and the injection, so a rebuild writes the same bytes (and leaves their mtimes). An
    injection a face cannot take is left out and counted in `refused` by (kind, renderer,
    size) when a Counter is given.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    injections = tuple(default_injections() if injections is None else injections)
    licences = {name: s.licence for name, s in sources().items()}
    rows = []
    with create_landmarker(resolve_model()) as landmarker:
        for entry in _select(subjects, kind="image"):
            rgb = load_image_rgb(population_path(entry), max_side=MAX_SIDE_PX)
            try:
                landmarks = _landmarks(landmarker, rgb, entry.subject_id)
            except FaceNotFoundError:
                continue
            height, width = rgb.shape[:2]
            pts = landmarks * (width, height, width)
            points = measured_points(rgb, landmarks)
            side = injection_side(entry.subject_id)
            for injection in injections:
                truth = dict.fromkeys(TRUTH_COLUMN.values(), 0.0)
                if injection.kind == "original":
                    image = rgb
                else:
                    render = RENDERERS[(injection.kind, injection.renderer)]
                    try:
                        rendering = render(rgb, pts, side, injection.mm)
                    except ValueError:
                        # e.g. a ptosis larger than this eye's lid gap allows, or a warp
                        # that would fold (`rendering.NotRenderable`).
                        if refused is not None:
                            refused[(injection.kind, injection.renderer, injection.mm)] += 1
                        continue
                    image = rendering.image
                    truth[TRUTH_COLUMN[injection.kind]] = ground_truth_mm(
                        (height, width), landmarks, points, rendering, injection.kind, side
                    )
                name = f"{entry.subject_id}__{injection.slug(side)}.jpg"
                _write_if_changed(out_dir / name, encode_jpeg(image, JPEG_QUALITY))
                injected = injection.kind != "original"
                rows.append(
                    {
                        "file": name,
                        "label": int(injected),
                        "subject_id": entry.subject_id,
                        "source_file": entry.file,
                        "kind": injection.kind,
                        "renderer": injection.renderer,
                        "side": side if injected else "none",
                        "injected_mm": float(injection.mm),
                        "droop_mm": float(injection.mm) if injection.kind == "droop" else 0.0,
                        "ptosis_mm": float(injection.mm) if injection.kind == "ptosis" else 0.0,
                        **{k: round(v, 4) for k, v in truth.items()},
                        "licence": licences[entry.source],
                    }
                )
    return _write_labels(out_dir, rows, INJECTED_COLUMNS)
