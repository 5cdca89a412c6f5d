"""Calibration of the asymmetry measures on the demo data (known injected droop/ptosis).

Builds the demo images into a temporary folder (or reads `data/demo` when it exists and
has a labels.csv), runs the MediaPipe landmarker on every image, and prints the
calibration table (measured vs injected change: slope, intercept, MAE, Spearman) for
(a) MediaPipe's landmarks as they are, 2D face frame, (b) the same, frontalised (the
default of `symmetry_features`), and (c) with the mouth corners and lid margins refined
from the pixels (`refine.refine_points`), plus the per-frame cost of the refinement.

Usage: python bench/calibration_report.py [--plot DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from facesym_pipeline.demo.images import build_demo_images
from facesym_pipeline.lib.face.landmarker import create_landmarker, frame_result, to_mp_image
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.refine import REFINED_LANDMARKS, refine_points
from facesym_pipeline.lib.measure.calibration import (
    calibration_pairs,
    calibration_plot,
    calibration_table,
)
from facesym_pipeline.lib.measure.symmetry import symmetry_features
from facesym_pipeline.lib.media.decode import load_image_rgb
from facesym_pipeline.lib.media.labels import LABELS_FILE

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"


def landmark_all(root: Path, labels: pl.DataFrame):
    """Landmarks, frame sizes, transforms, refined points and refinement time per image."""
    landmarks, widths, heights, transforms, files = [], [], [], [], []
    refined = {i: [] for i in REFINED_LANDMARKS}
    refine_s = 0.0
    with create_landmarker(resolve_model()) as landmarker:
        for rel in labels["file"].to_list():
            rgb = load_image_rgb(root / rel)
            result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0)
            if result.status != "ok":
                print(f"no face: {rel}")
                continue
            start = time.perf_counter()
            points = refine_points(rgb, result.landmarks)
            refine_s += time.perf_counter() - start
            for index in REFINED_LANDMARKS:
                refined[index].append(points[index])
            landmarks.append(result.landmarks)
            widths.append(result.frame_width)
            heights.append(result.frame_height)
            transforms.append(result.transform)
            files.append(rel)
    refined = {i: np.array(v) for i, v in refined.items()}
    n = len(files)
    return (
        np.array(landmarks), np.array(widths), np.array(heights), np.array(transforms),
        files, refined, 1000 * refine_s / max(n, 1),
    )  # fmt: skip


def report(root: Path, plot_dir: Path | None) -> None:
    labels = pl.read_csv(root / LABELS_FILE)
    lm, width, height, transform, files, refined, refine_ms = landmark_all(root, labels)
    variants = {
        "a) MediaPipe 2D": dict(frontalise=False),
        "b) MediaPipe frontalised": dict(frontalise=True),
        "c) refined points, frontalised": dict(frontalise=True, refined=refined),
    }
    pl.Config.set_tbl_width_chars(140)
    pl.Config.set_float_precision(3)
    droop_only = labels.filter(pl.col("ptosis_mm") == 0)
    for name, kwargs in variants.items():
        measured = symmetry_features(lm, width, height, transform, **kwargs).with_columns(
            pl.Series("file", files)
        )
        print(f"\n{name}")
        print(calibration_table(measured, labels))
        droop = calibration_table(measured, droop_only).filter(
            pl.col("measure") == "mouth_corner_height_diff_mm"
        )
        print("  droop without a simultaneous ptosis:", droop.select("n", "slope", "mae_mm").row(0))
        pairs = calibration_pairs(measured, labels)
        per_source = (
            pairs.with_columns(err=(pl.col("measured_change_mm") - pl.col("injected_signed_mm")))
            .group_by("measure", "source")
            .agg(pl.col("err").abs().mean().alias("mae_mm"))
            .pivot(on="measure", index="source", values="mae_mm")
            .sort("source")
        )
        print(per_source)
        if plot_dir is not None:
            slug = name.split(")")[0]
            path = calibration_plot(measured, labels, plot_dir / f"calibration_{slug}.png", name)
            print(f"plot: {path}")
    print(f"\nrefinement: {refine_ms:.2f} ms per frame ({len(files)} frames)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", type=Path, default=None, help="folder for the plots")
    args = parser.parse_args()
    if (DEMO_DIR / LABELS_FILE).exists():
        report(DEMO_DIR, args.plot)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build_demo_images(Path(tmp))
        report(Path(tmp), args.plot)


if __name__ == "__main__":
    main()
