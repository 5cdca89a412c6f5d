"""Run the landmark pass for one dataset: sampled frames in, `face_landmarks` rows out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.face.landmark_table import FACE_LANDMARKS_SCHEMA, landmark_rows
from facesym_pipeline.lib.face.landmarker import MediaTask, run_landmark_pass
from facesym_pipeline.lib.paths import resolve_inside


def media_tasks(
    inventory: pl.DataFrame, frames: pl.DataFrame, folder: Path
) -> tuple[list[MediaTask], dict[str, list[tuple[int, float]]]]:
    planned: dict[str, list[tuple[int, float]]] = {}
    for media_id, frame_index, t_s in frames.select("media_id", "frame_index", "t_s").iter_rows():
        planned.setdefault(media_id, []).append((frame_index, t_s))
    usable = inventory.filter(pl.col("status") == "ok").unique("media_id", keep="first")
    tasks = [
        MediaTask(
            row["media_id"],
            # The inventory already refused links out of the dataset; this also refuses a
            # relpath that was altered in the lake.
            str(resolve_inside(folder, row["relpath"])),
            row["kind"],
            planned[row["media_id"]],
        )
        for row in usable.iter_rows(named=True)
        if row["media_id"] in planned
    ]
    # Videos first, longest first: the pool then finishes on short image tasks.
    tasks.sort(key=lambda t: (t.kind != "video", -len(t.frames)))
    return tasks, planned


def landmark_pass_for_dataset(
    inventory: pl.DataFrame,
    frames: pl.DataFrame,
    folder: Path,
    model_path: Path,
    workers: int,
    progress: Callable[[int, int], None] | None = None,
    hands: bool | Path = True,
    native_log: Path | None = None,
) -> pl.DataFrame:
    """`hands`: True measures the hand cover with the verified hand bundle, a path uses that
    bundle, False leaves `hand_cover` null. MediaPipe's native log lines (this process and
    the workers) go to `native_log`, default FACESYM_NATIVE_LOG or
    warehouse/logs/native.log, never to the terminal."""
    dataset = inventory["dataset"][0] if inventory.height else ""
    tasks, planned = media_tasks(inventory, frames, folder)
    if not tasks:
        return pl.DataFrame(schema=FACE_LANDMARKS_SCHEMA)
    results = []
    step = max(1, len(tasks) // 10)
    for done, result in enumerate(
        run_landmark_pass(tasks, model_path, workers, hands, native_log), start=1
    ):
        results.append(result)
        if progress and (done % step == 0 or done == len(tasks)):
            progress(done, len(tasks))
    return landmark_rows(dataset, results, planned)
