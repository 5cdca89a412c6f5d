"""Landmark-pass throughput: the pipeline's pass vs bare MediaPipe on the same frames.

Run on purpose (not a test): `python bench/landmark_throughput.py [--long-video]`.
Prints frames per second for bare MediaPipe (frames decoded beforehand, so only the
landmarker is timed), for the pipeline pass with 1 worker (decode + landmarks + image
metrics + hand cover), the same without the hand detector (so its cost per frame shows),
and with all cores; and with --long-video the peak memory of the pass over a generated
10-minute 720p video.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset, media_tasks
from facesym_pipeline.lib.face.landmarker import (
    create_landmarker,
    default_workers,
    run_landmark_pass,
    to_mp_image,
)
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.media.decode import iter_video_frames, load_image_rgb
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline.lib.media.sampling import sample_frames
from facesym_pipeline.lib.paths import data_root


def decoded_frames(tasks) -> list[tuple[str, list[tuple[np.ndarray, int]]]]:
    out = []
    for task in tasks:
        if task.kind == "image":
            out.append(("image", [(load_image_rgb(Path(task.path)), 0)]))
        else:
            times = dict(task.frames)
            frames = [
                (rgb, round(times[i] * 1000))
                for i, rgb in iter_video_frames(Path(task.path), times)
                if rgb is not None
            ]
            out.append(("video", frames))
    return out


def bare_mediapipe(model: Path, media) -> tuple[int, float]:
    n, elapsed = 0, 0.0
    with create_landmarker(model) as image_lm:
        for kind, frames in media:
            if kind == "image":
                started = time.perf_counter()
                image_lm.detect(to_mp_image(frames[0][0]))
                elapsed += time.perf_counter() - started
                n += 1
                continue
            with create_landmarker(model, video=True) as video_lm:
                started = time.perf_counter()
                for rgb, t_ms in frames:
                    video_lm.detect_for_video(to_mp_image(rgb), t_ms)
                elapsed += time.perf_counter() - started
                n += len(frames)
    return n, elapsed


def pipeline_pass(model: Path, tasks, workers: int, hands: bool = True) -> tuple[int, float]:
    """The pass as the face_landmarks asset runs it (decode, landmarks, refinement of
    stills, image metrics, hand cover), over every task in one pool."""
    started = time.perf_counter()
    frames = sum(len(r.frames) for r in run_landmark_pass(tasks, model, workers, hands))
    return frames, time.perf_counter() - started


def make_long_video(folder: Path, minutes: float) -> Path:
    """A 720p, 30 fps video of `minutes` made from a demo clip played back and forth."""
    path = folder / "long_720p.mp4"
    source = data_root() / "demo-video" / "symmetric_control.mp4"
    cap = cv2.VideoCapture(str(source))
    loop = []
    while len(loop) < 150:
        ok, frame = cap.read()
        if not ok:
            break
        loop.append(cv2.resize(frame, (1280, 720)))
    cap.release()
    fps = 30.0
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for i in range(int(minutes * 60 * fps)):
        k = i % (2 * len(loop) - 2)
        writer.write(loop[k if k < len(loop) else 2 * len(loop) - 2 - k])
    writer.release()
    return path


def measure_pass_memory(folder: Path, model: Path) -> dict:
    """Runs in a fresh process, so VmHWM is the pass's own peak (one worker, in-process)."""
    started = time.perf_counter()
    inventory = scan_dataset("long", folder)
    table = landmark_pass_for_dataset(inventory, sample_frames(inventory), folder, model, 1)
    return {
        "frames_analysed": table.height,
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(_vm_hwm_mb(), 1),
    }


def long_video_peak_memory(model: Path, minutes: float) -> dict:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "long"
        folder.mkdir()
        with spawn.Pool(1) as pool:
            path = pool.apply(make_long_video, (folder, minutes))
        size_mb = path.stat().st_size / 1e6
        with spawn.Pool(1) as pool:
            report = pool.apply(measure_pass_memory, (folder, model))
    return {"video_minutes": minutes, "video_mb": round(size_mb, 1), **report}


def _vm_hwm_mb() -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=["demo", "demo-video"])
    parser.add_argument("--long-video", action="store_true", help="also measure peak memory")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="pass over the data this many times, so worker start-up (about 2 s) is amortised",
    )
    args = parser.parse_args()
    model = resolve_model()
    os.environ.setdefault("GLOG_minloglevel", "2")

    all_tasks = []
    for name in args.datasets:
        folder = data_root() / name
        inventory = scan_dataset(name, folder)
        all_tasks += media_tasks(inventory, sample_frames(inventory), folder)[0]

    media = decoded_frames(all_tasks)
    n_bare, t_bare = 0, 0.0
    for _ in range(args.repeat):
        n, t = bare_mediapipe(model, media)
        n_bare, t_bare = n_bare + n, t_bare + t
    del media
    rows = [("bare MediaPipe, 1 process (decode excluded)", n_bare, t_bare)]
    n, t = pipeline_pass(model, all_tasks * args.repeat, 1, hands=False)
    rows.append(("pipeline pass, 1 worker, no hand detector", n, t))
    for workers in sorted({1, default_workers()}):
        n, t = pipeline_pass(model, all_tasks * args.repeat, workers)
        rows.append((f"pipeline pass, {workers} worker(s) (decode included)", n, t))
    table = pl.DataFrame(
        {
            "run": [r[0] for r in rows],
            "frames": [r[1] for r in rows],
            "seconds": [round(r[2], 2) for r in rows],
            "frames_per_s": [round(r[1] / r[2], 1) for r in rows],
        }
    )
    with pl.Config(tbl_rows=10, tbl_width_chars=120, fmt_str_lengths=60):
        print(table)
    fps = table["frames_per_s"].to_list()
    print(
        f"single-process ratio pipeline without hands/bare: {fps[1] / fps[0]:.3f} (target >= 0.9)"
    )
    print(f"hand detector: {1000 / fps[2] - 1000 / fps[1]:.1f} ms per frame (all frames, 1 worker)")
    if len(fps) > 3:
        print(f"speed-up {default_workers()} workers vs 1: {fps[3] / fps[2]:.2f}x (target >= 1.7)")
    if args.long_video:
        print(long_video_peak_memory(model, args.minutes))


if __name__ == "__main__":
    main()
