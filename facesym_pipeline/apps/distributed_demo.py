"""`facesym demo-distributed`: the demo datasets through the `distributed` profile, checked
against the local result.

The services start on loopback (apps/services.py). From then on nothing here runs a step:
the daemon's dataset sensor registers every dataset folder as a partition, its automation
conditions submit each dataset's runs to the queue, and the Celery workers execute the
steps against Postgres and the S3 lake. This module waits until the instance has settled
(every asset partition materialised, no run queued or running, none started for a while),
then compares every lake table with the local lake, partition by partition.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import NOT_FINISHED_STATUSES

from facesym_pipeline.apps.services import ServiceError, Stack, distributed_stack
from facesym_pipeline.lib.paths import dataset_keys
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline.lib.store.lake_compare import LakeComparison, compare_lakes


@dataclass
class Settled:
    runs: int
    failed: list[str]
    missing: list[str]
    seconds: float
    steps_by_worker: dict[str, int]
    # distinct chunk steps of the landmark pass (face_landmarks.landmark_chunk[c0000], ...)
    chunk_steps: int


def _celery_steps(instance: dg.DagsterInstance) -> list[tuple[str, str]]:
    """(worker, step key) of every step a Celery worker executed, from engine events."""
    steps = []
    for run in instance.get_runs():
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
            data = entry.dagster_event.engine_event_data if entry.dagster_event else None
            worker = (data.metadata or {}).get("Celery worker") if data else None
            if worker is not None and entry.dagster_event.step_key:
                steps.append((str(worker.value).split("@")[0], entry.dagster_event.step_key))
    return steps


def _missing(instance: dg.DagsterInstance, graph, partitions: list[str]) -> list[str]:
    """Asset partitions that have never been materialised."""
    missing = []
    for key in graph.materializable_asset_keys:
        if graph.get(key).partitions_def is None:
            if instance.get_latest_materialization_event(key) is None:
                missing.append(key.to_user_string())
        else:
            done = instance.get_materialized_partitions(key)
            missing += [f"{key.to_user_string()}[{p}]" for p in partitions if p not in done]
    return sorted(missing)


def wait_until_settled(
    stack: Stack,
    expected_partitions: list[str],
    quiet_s: float = 45,
    timeout_s: float = 3600,
    say: Callable[[str], None] = print,
) -> Settled:
    """Poll the instance until every asset partition exists and no run has been queued,
    running or created for `quiet_s` (automation may still follow an update), or until
    nothing is running, nothing new starts and a run failed."""
    from facesym_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    instance = dg.DagsterInstance.get()
    started = time.monotonic()
    reported: set[str] = set()
    while True:
        stack.check_alive()
        registered = instance.get_dynamic_partitions("dataset")
        records = instance.get_run_records(limit=1)
        last_created = records[0].create_timestamp.timestamp() if records else None
        active = instance.get_runs_count(dg.RunsFilter(statuses=NOT_FINISHED_STATUSES))
        finished = instance.get_runs(
            filters=dg.RunsFilter(
                statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
            )
        )
        for run in finished:
            if run.run_id not in reported:
                reported.add(run.run_id)
                partition = run.tags.get("dagster/partition", "all datasets")
                assets = len(run.asset_selection or [])
                say(
                    f"[{partition}] run {run.run_id[:8]} {run.status.value.lower()} ({assets} asset(s))"
                )
        failed = [r.run_id[:8] for r in finished if r.status == dg.DagsterRunStatus.FAILURE]
        quiet = last_created is not None and time.time() - last_created > quiet_s
        if set(expected_partitions) <= set(registered) and active == 0 and quiet:
            missing = _missing(instance, graph, registered)
            if not missing or failed:
                steps = _celery_steps(instance)
                by_worker: dict[str, int] = {}
                for worker, _ in steps:
                    by_worker[worker] = by_worker.get(worker, 0) + 1
                chunks = {step for _, step in steps if ".landmark_chunk[" in step}
                elapsed_s = time.monotonic() - started
                return Settled(len(finished), failed, missing, elapsed_s, by_worker, len(chunks))
        if time.monotonic() - started > timeout_s:
            missing = _missing(instance, graph, registered)
            raise TimeoutError(f"not settled after {timeout_s:.0f} s; missing: {missing[:10]}")
        time.sleep(2)


def run_demo(
    state_dir: Path,
    local_warehouse: Path,
    data_dir: Path,
    workers: int = 2,
    say: Callable[[str], None] = print,
) -> tuple[Settled, LakeComparison]:
    """Start the services, let the daemon materialise every dataset, compare with the
    local lake; every service is stopped before this returns."""
    expected, _ = dataset_keys(data_dir)
    if not expected:
        raise ServiceError(f"no datasets under {data_dir}: run `facesym demo-data` first")
    local_lake = Lake.in_warehouse(local_warehouse)
    if not local_lake.tables():
        raise ServiceError(f"no local result in {local_lake.uri}: run `make demo` first")
    # A fresh instance and lake each time: the state of an earlier demo is not reused.
    shutil.rmtree(state_dir, ignore_errors=True)
    saved = dict(os.environ)
    try:
        with distributed_stack(
            state_dir, state_dir / "warehouse", data_dir, workers=workers, say=say
        ) as stack:
            os.environ.update(stack.env)
            say(f"waiting for the daemon to materialise {len(expected)} dataset(s) ...")
            settled = wait_until_settled(stack, expected, say=say)
            comparison = compare_lakes(local_lake, Lake(stack.env["FACESYM_LAKE_URI"]))
        return settled, comparison
    finally:
        os.environ.clear()
        os.environ.update(saved)


def summary_line(settled: Settled, comparison: LakeComparison) -> str:
    verdict = "matches" if comparison.matches and not settled.failed else "DIFFERS"
    return (
        f"distributed run {verdict} the local lake: {comparison.tables} tables, "
        f"{comparison.partitions} partitions, {comparison.rows:,} rows compared; "
        f"{settled.runs} runs, {len(settled.failed)} failed, {settled.seconds:.0f} s; steps "
        f"by worker: {', '.join(f'{w} {n}' for w, n in sorted(settled.steps_by_worker.items()))}"
        f" ({settled.chunk_steps} landmark chunk steps)"
    )
