"""Phase 2 end to end on the demo faces: full-face CNN vs region CNN vs landmark geometry,
all on the Phase 1 classifier's grouped folds, then the shortcut audit on counterfactual
copies of the held-out faces. Prints the audit table and the time of every step.

    .venv/bin/python bench/phase2_demo.py [--no-confound] [--epochs N] [--out DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from facesym_pipeline.lib.classifier import (
    candidate_models,
    feature_matrix,
    fit_small,
    train_and_select,
)
from facesym_pipeline.lib.cnn.attribution import attribution_grid
from facesym_pipeline.lib.cnn.datasets import crop_arrays
from facesym_pipeline.lib.cnn.train import TrainConfig, cnn_predictor, cross_validate
from facesym_pipeline.lib.counterfactual import (
    IN_DISTRIBUTION,
    attach_landmarks,
    build_counterfactual_sets,
    load_samples,
)
from facesym_pipeline.lib.demo_data import build_demo_images
from facesym_pipeline.lib.landmarker import create_landmarker
from facesym_pipeline.lib.model_file import resolve_model
from facesym_pipeline.lib.phase2 import geometry_columns, geometry_features, geometry_predictor
from facesym_pipeline.lib.shortcut_audit import (
    audit_markdown,
    audit_plot,
    audit_table,
    comparison_frame,
    per_fold_predictor,
    predict_sets,
)


class Timer:
    def __init__(self):
        self.rows: list[tuple[str, float]] = []

    def __call__(self, name: str):
        timer = self

        class _Step:
            def __enter__(self):
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.rows.append((name, time.perf_counter() - self.t0))
                print(f"[{name}] {timer.rows[-1][1]:.1f} s", flush=True)

        return _Step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-confound", action="store_true")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, default=None, help="where plots and tables go")
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="phase2_"))
    out.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    started = time.perf_counter()

    with timer("demo images"):
        data_dir = out / "data"
        labels = build_demo_images(data_dir, confound=not args.no_confound)
    with timer("load + landmarks (in-distribution)"), create_landmarker(resolve_model()) as lm:
        samples = attach_landmarks(load_samples(data_dir, labels), lm)
    samples = [s for s in samples if s.landmarks is not None]
    y = np.array([s.label for s in samples])
    groups = np.array([s.subject_id for s in samples])

    with timer("phase 1 classifier (grouped folds)"):
        feats = geometry_features(samples).with_columns(
            pl.Series("label", y), pl.Series("group", groups)
        )
        cols = geometry_columns(feats)
        phase1 = train_and_select(feats, cols, seed=args.seed, n_boot=200)
        folds = phase1.folds["grouped_fold"].to_numpy()
        subject_fold = {g: int(f) for g, f in zip(groups, folds, strict=True)}
        X = feature_matrix(feats, cols)
        geo = {
            k: fit_small(
                candidate_models(args.seed)[phase1.model_name], X[folds != k], y[folds != k]
            )
            for k in np.unique(folds).tolist()
        }
    print(
        f"phase 1 model {phase1.model_name}, {phase1.n_splits} grouped folds, leakage {phase1.leakage}"
    )

    with timer("counterfactual sets + landmarks"), create_landmarker(resolve_model()) as lm:
        sets = build_counterfactual_sets(samples, seed=args.seed)
        sets = {k: attach_landmarks(v, lm) for k, v in sets.items()}

    with timer("crops"):
        arrays = crop_arrays((s.image, s.landmarks) for s in samples)
    config = TrainConfig(
        epochs=args.epochs, seed=args.seed, num_threads=args.threads, device=args.device
    )
    cv = {}
    for kind in ("full_face_cnn", "region_cnn"):

        def log(e, kind=kind):
            print(
                f"  {kind} fold {e.fold} epoch {e.epoch:2d} train {e.train_loss:.3f} "
                f"val {e.val_loss:.3f} acc {e.val_accuracy:.2f} {e.seconds:.1f}s"
                + (" *" if e.best else "")
            )

        with timer(f"train {kind} ({config.device})"):
            cv[kind] = cross_validate(kind, arrays, y, groups, folds, config, on_epoch=log)

    with timer("audit predictions"):
        predictors = {
            "landmark_geometry": per_fold_predictor(
                {k: geometry_predictor(m, cols) for k, m in geo.items()}, subject_fold
            ),
            **{
                kind: per_fold_predictor(
                    {k: cnn_predictor(m) for k, m in res.models.items()}, subject_fold
                )
                for kind, res in cv.items()
            },
        }
        preds = pl.concat([predict_sets(name, p, sets) for name, p in predictors.items()])
    with timer("audit table + plots"):
        table = audit_table(preds, n_boot=300, seed=args.seed)
        (out / "shortcut_audit.png").write_bytes(audit_plot(table))
        (out / "shortcut_audit.md").write_text(audit_markdown(table))
        table.write_csv(out / "shortcut_audit.csv")
        # one held-out subject, shown by the models of the fold that held it out
        subject = sorted(subject_fold)[0]
        wanted = ("original", "droop_left_d5mm", "droop_right_d5mm", "ptosis_left_p3mm")
        examples = [
            (s.image, s.landmarks, s.meta["file"].split("__")[-1].removesuffix(".jpg"))
            for s in sets[IN_DISTRIBUTION]
            if s.subject_id == subject and any(s.meta["file"].endswith(w + ".jpg") for w in wanted)
        ]
        fold0 = {kind: res.models[subject_fold[subject]] for kind, res in cv.items()}
        (out / "attribution.png").write_bytes(attribution_grid(fold0, examples))

    total = time.perf_counter() - started
    with pl.Config(tbl_rows=200, tbl_cols=12, tbl_width_chars=140, float_precision=3):
        print(table.filter(pl.col("metric") != "balanced_accuracy"))
        print(comparison_frame(table, "accuracy"))
        print(comparison_frame(table, "roc_auc"))
    print(audit_markdown(table).split("\n| model")[0])
    for name, secs in timer.rows:
        print(f"{name:45s} {secs:7.1f} s")
    print(f"{'total':45s} {total:7.1f} s   outputs in {out}")


if __name__ == "__main__":
    main()
