"""Landmark-pass throughput: the pipeline's pass vs bare MediaPipe on the same frames.

Run on purpose (not a test): `python bench/landmark_throughput.py [--long-video]`.

Bare MediaPipe is the ceiling: frames decoded beforehand and only the MediaPipe calls timed
(one IMAGE and one VIDEO face landmarker, created before the clock starts; with hands on,
also the hand landmarker on the two crops around the face that the pipeline uses), in 1
and in 2 processes started together. The pipeline pass is `run_landmark_pass` as the
face_landmarks asset runs it (decoding, landmarks, image metrics, refinement of stills,
hand cover), with 1 worker and 2; its start-up (spawning workers, creating the models) is
timed on its own and left out of frames/s, as it is for bare MediaPipe. Each comparison is
made with the hand detector off in both and on in both (`--hands`).

With --long-video: peak memory of the pass over a generated 10-minute 720p video, in a
fresh process.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset, media_tasks
from facesym_pipeline.lib.face.landmarker import _options, run_landmark_pass, to_mp_image
from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model, resolve_model
from facesym_pipeline.lib.face.native_log import native_logs_to, send_native_logs_to
from facesym_pipeline.lib.face.occlusion import HandCover
from facesym_pipeline.lib.media.decode import iter_video_frames, load_image_rgb
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline.lib.media.sampling import sample_frames
from facesym_pipeline.lib.paths import data_root

WORKERS = 2  # this project's machine has 2 cores; the pass's default is one per core


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


def split(tasks, parts: int) -> list[list]:
    """Tasks dealt to `parts` processes, longest first to the least loaded."""
    shares: list[list] = [[] for _ in range(parts)]
    loads = [0] * parts
    for task in sorted(tasks, key=lambda t: -len(t.frames)):
        k = loads.index(min(loads))
        shares[k].append(task)
        loads[k] += len(task.frames)
    return shares


def _bare_process(model: str, hand_bundle: str | None, tasks, repeat: int, barrier, log: str):
    """One bare-MediaPipe process: decode its share, create the models, wait for the
    others, then time only the MediaPipe calls. Returns (frames, start, end) on the
    system-wide monotonic clock, so processes can be combined."""
    from mediapipe.tasks.python import vision

    send_native_logs_to(log)
    media = decoded_frames(tasks)
    image_lm = vision.FaceLandmarker.create_from_options(_options(model, False))
    video_lm = vision.FaceLandmarker.create_from_options(_options(model, True))
    hands = HandCover(hand_bundle, native_log=log) if hand_bundle else None
    barrier.wait()
    n, clock = 0, 0
    start, cpu = time.monotonic(), cpu_s(resource.RUSAGE_SELF)
    with native_logs_to(log):  # once, as the pipeline does: the hand calls nest in it
        for _ in range(repeat):
            for kind, frames in media:
                origin = clock = clock + 1000
                for rgb, t_ms in frames:
                    if kind == "image":
                        detection = image_lm.detect(to_mp_image(rgb))
                    else:
                        clock = max(clock + 1, origin + t_ms)
                        detection = video_lm.detect_for_video(to_mp_image(rgb), clock)
                    if hands is not None and detection.face_landmarks:
                        face = detection.face_landmarks[0]
                        height, width = rgb.shape[:2]
                        px = np.array([(p.x, p.y) for p in face], np.float32) * (width, height)
                        hands.hands_px(rgb, px)
                    n += 1
    end, cpu = time.monotonic(), cpu_s(resource.RUSAGE_SELF) - cpu
    image_lm.close()
    video_lm.close()
    if hands is not None:
        hands.close()
    return n, start, end, cpu


def cpu_s(who: int | None = None) -> float:
    """CPU seconds (user + system) of this process (RUSAGE_SELF), of its ended children
    (RUSAGE_CHILDREN), or of both (the default)."""
    if who is None:
        return cpu_s(resource.RUSAGE_SELF) + cpu_s(resource.RUSAGE_CHILDREN)
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def bare_mediapipe(model: Path, tasks, processes: int, hands: bool, repeat: int, log: Path):
    """(frames, seconds, CPU seconds) of bare MediaPipe over `tasks` in `processes`
    processes at once."""
    spawn = multiprocessing.get_context("spawn")
    bundle = str(resolve_hand_model()) if hands else None
    with spawn.Manager() as manager, spawn.Pool(processes) as pool:
        barrier = manager.Barrier(processes)
        jobs = [
            pool.apply_async(_bare_process, (str(model), bundle, share, repeat, barrier, str(log)))
            for share in split(tasks, processes)
        ]
        runs = [job.get() for job in jobs]
    n, cpu = sum(r[0] for r in runs), sum(r[3] for r in runs)
    return n, max(r[2] for r in runs) - min(r[1] for r in runs), cpu


def pipeline_pass(model: Path, tasks, workers: int, hands: bool, log: Path):
    """(frames, seconds, CPU seconds, start-up seconds) of the pass as the face_landmarks
    asset runs it, CPU of the whole process tree. Start-up (worker processes, model
    creation) is timed on a pass over the `workers` smallest media and subtracted, so
    frames/s is the steady state, as for bare MediaPipe."""
    smallest = sorted(tasks, key=lambda t: len(t.frames))[:workers]
    started, cpu = time.perf_counter(), cpu_s()
    for _ in run_landmark_pass(smallest, model, workers, hands, log):
        pass
    startup, startup_cpu = time.perf_counter() - started, cpu_s() - cpu
    started, cpu = time.perf_counter(), cpu_s()
    frames = sum(len(r.frames) for r in run_landmark_pass(tasks, model, workers, hands, log))
    seconds, cpu = time.perf_counter() - started - startup, cpu_s() - cpu - startup_cpu
    return frames, seconds, cpu, startup


def throughput(model: Path, tasks, hands: bool, repeat: int, log: Path) -> dict:
    """frames/s of bare MediaPipe (1 and 2 processes) and the pipeline (1 and 2 workers),
    and CPU ms per frame (which other load on the machine does not change much)."""
    out = {}
    for label, run in (
        ("bare 1", lambda: bare_mediapipe(model, tasks, 1, hands, repeat, log)),
        ("pipeline 1", lambda: pipeline_pass(model, tasks * repeat, 1, hands, log)),
        ("bare 2", lambda: bare_mediapipe(model, tasks, WORKERS, hands, repeat, log)),
        ("pipeline 2", lambda: pipeline_pass(model, tasks * repeat, WORKERS, hands, log)),
    ):
        n, seconds, cpu, *startup = run()
        out[label] = n / seconds
        out[f"cpu {label}"] = 1000 * cpu / n
        note = f", start-up {startup[0]:.1f} s left out" if startup else ""
        print(
            f"  {label:<11} {n:>6} frames {seconds:7.2f} s {n / seconds:7.1f} frames/s "
            f"{1000 * cpu / n:6.1f} CPU ms/frame ({cpu / seconds:.2f} cores){note}"
        )
    return out


def make_long_video(folder: Path, minutes: float) -> Path:
    """A 1280x720, 30 fps mp4v video of `minutes`: the first 5 s of a real face video,
    played back and forth."""
    path = folder / "long_720p.mp4"
    source = data_root() / "demo-video" / "symmetric_control.mp4"
    if not source.is_file():
        from facesym_pipeline.demo.samples import sample_path

        source = sample_path("WolfgangLanger_Pexels.mp4")
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


def measure_pass_memory(folder: Path, model: Path, log: Path) -> dict:
    """Runs in a fresh process, so its VmHWM is the pass's own peak. The default workers:
    a single video is one task, so it runs in this process."""
    started = time.perf_counter()
    inventory = scan_dataset("long", folder)
    sampled = sample_frames(inventory)  # the default 5 fps
    table = landmark_pass_for_dataset(inventory, sampled, folder, model, WORKERS, native_log=log)
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "frames_decoded": int(inventory["n_frames"][0]),
        "frames_analysed": table.height,
        "faces_found": int((table["status"] == "ok").sum()),
        "seconds": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(_vm_hwm_mb(), 1),
        "largest_child_peak_rss_mb": round(children, 1),
    }


def long_video_peak_memory(model: Path, minutes: float, log: Path) -> dict:
    spawn = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "long"
        folder.mkdir()
        with spawn.Pool(1) as pool:
            path = pool.apply(make_long_video, (folder, minutes))
        size_mb = path.stat().st_size / 1e6
        with spawn.Pool(1) as pool:
            report = pool.apply(measure_pass_memory, (folder, model, log))
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
    parser.add_argument("--hands", choices=["off", "on", "both"], default="both")
    parser.add_argument("--long-video", action="store_true", help="also measure peak memory")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--no-throughput", action="store_true", help="only --long-video")
    parser.add_argument("--repeat", type=int, default=2, help="passes over the data")
    parser.add_argument("--runs", type=int, default=1, help="repeat every measurement")
    args = parser.parse_args()
    model = resolve_model()
    os.environ.setdefault("GLOG_minloglevel", "2")

    tasks = []
    for name in args.datasets:
        folder = data_root() / name
        inventory = scan_dataset(name, folder)
        tasks += media_tasks(inventory, sample_frames(inventory), folder)[0]
    print(f"{len(tasks)} media, {sum(len(t.frames) for t in tasks)} frames, x{args.repeat}")

    hands_modes = {"off": [False], "on": [True], "both": [False, True]}[args.hands]
    if args.no_throughput:
        hands_modes = []
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "native.log"
        figures: dict[bool, dict[str, list[float]]] = {h: {} for h in hands_modes}
        for run in range(args.runs):
            for hands in hands_modes:
                print(f"run {run + 1}, hand detector {'on' if hands else 'off'}:")
                fps = throughput(model, tasks, hands, args.repeat, log)
                for key, value in {
                    "x": fps["pipeline 1"] / fps["bare 1"],
                    "y": fps["pipeline 2"] / fps["pipeline 1"],
                    "z": fps["bare 2"] / fps["bare 1"],
                    **fps,
                }.items():
                    figures[hands].setdefault(key, []).append(value)
        for hands in hands_modes:
            both = f"hands {'on' if hands else 'off'} in both"
            f = figures[hands]

            def med(key: str, unit: str = "", f: dict = f) -> str:
                runs = ", ".join(f"{v:.2f}{unit}" for v in f[key])
                median = f"{statistics.median(f[key]):.2f}{unit}"
                return median + (f" (median of {runs}; " if args.runs > 1 else " (")

            print(f"[{both}] frames/s, median: " + ", ".join(
                f"{k} {statistics.median(f[k]):.1f}" for k in ("bare 1", "pipeline 1", "bare 2", "pipeline 2")
            ))  # fmt: skip
            print(f"[{both}] CPU ms per frame, median: " + ", ".join(
                f"{k} {statistics.median(f['cpu ' + k]):.1f}" for k in ("bare 1", "pipeline 1", "bare 2", "pipeline 2")
            ))  # fmt: skip
            print(f"single-process ratio pipeline/bare: {med('x')}{both}; target >= 0.95)")
            print(f"speed-up {WORKERS} workers vs 1: {med('y', 'x')}{both}; target >= 1.8)")
            print(f"bare MediaPipe, {WORKERS} processes vs 1: {med('z', 'x')}{both}; the ceiling)")
        if len(hands_modes) == 2:
            ms = {h: 1000 / statistics.median(figures[h]["pipeline 1"]) for h in hands_modes}
            print(
                f"hand detector: {ms[True] - ms[False]:.1f} of {ms[True]:.1f} ms per frame "
                f"({(ms[True] - ms[False]) / ms[True]:.0%}), pipeline pass, 1 worker"
            )
        if args.long_video:
            print(long_video_peak_memory(model, args.minutes, log))


if __name__ == "__main__":
    main()
