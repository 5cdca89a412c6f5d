"""The image models and the shortcut audit end to end with the pipeline's own functions,
outside Dagster: the confounded demo faces, the landmark pass and quality judge, crops,
both CNNs on the audit's subject-grouped folds, and the shortcut audit. Prints the audit
table and each step's time.

    .venv/bin/python bench/deep_models_demo.py [--no-confound] [--epochs N] [--device cpu|cuda] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from facesym_pipeline.demo.images import build_demo_images
from facesym_pipeline.lib.audit.audit_data import audit_data
from facesym_pipeline.lib.audit.fold_training import (
    CNN_KINDS,
    load_fold_models,
    train_cnn_folds,
)
from facesym_pipeline.lib.audit.model_comparison import run_audit
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset
from facesym_pipeline.lib.face.landmarker import default_workers
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames
from facesym_pipeline.lib.image_models.crop_pass import crops_for_dataset
from facesym_pipeline.lib.image_models.datasets import crop_arrays_from_index
from facesym_pipeline.lib.image_models.train import TrainConfig
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline.lib.media.labels import read_labels_table
from facesym_pipeline.lib.media.sampling import sample_frames

TIMES: list[tuple[str, float]] = []


@contextmanager
def step(name: str):
    started = time.perf_counter()
    yield
    TIMES.append((name, time.perf_counter() - started))
    print(f"[{name}] {TIMES[-1][1]:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-confound", action="store_true")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="where data, models, plots go")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="deep_models_"))
    folder = out / "data" / "faces"
    model = resolve_model()

    with step("demo images"):
        build_demo_images(folder, confound=not args.no_confound)
    with step("inventory, landmark pass, quality"):
        inventory = scan_dataset("faces", folder)
        landmarks = landmark_pass_for_dataset(
            inventory, sample_frames(inventory), folder, model, default_workers()
        )
        quality = judge_frames(landmarks, QualityThresholds())
    with step("crops"):
        index = crops_for_dataset(folder, inventory, landmarks, quality, out / "crops")
    data = audit_data(
        folder, inventory, landmarks, quality, read_labels_table(folder), seed=args.seed
    )
    arrays = crop_arrays_from_index(
        index, out / "crops", [s.meta["media_id"] for s in data.samples]
    )
    settings = TrainConfig(
        epochs=args.epochs, seed=args.seed, num_threads=args.threads, device=args.device
    )
    for kind in CNN_KINDS:
        with step(f"train {kind}"):
            run = train_cnn_folds(kind, data, arrays, settings, out / "models" / kind)
        print(f"  {kind} on {run.device}: out-of-fold AUC {run.out_of_fold_roc_auc:.3f}")
    with step("shortcut audit"):
        audit = run_audit(data, load_fold_models(out / "models"), model, seed=args.seed)
    (out / "shortcut_audit.md").write_text(audit.summary_markdown)
    (out / "shortcut_audit.png").write_bytes(audit.plot_png)
    (out / "attribution.png").write_bytes(audit.attribution_png)
    with pl.Config(tbl_rows=40, tbl_width_chars=140, float_precision=2):
        print(audit.comparison)
    for name, seconds in TIMES:
        print(f"{name:40s} {seconds:7.1f} s")
    print(f"{'total':40s} {sum(s for _, s in TIMES):7.1f} s   outputs in {out}")


if __name__ == "__main__":
    main()
