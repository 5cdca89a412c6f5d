"""Orchestration latency: the targets of the orchestration issue, and "Materialize all".

Run on purpose (not a test): `python bench/orchestration_latency.py [--only latency|ui|all]`.

* latency: in a temporary project root whose small dataset `facesym run` has brought up to
  date, `dagster dev` runs; a new folder of 6 real faces is dropped into data/ and the
  clock runs until the sensor, the daemon and the automation conditions alone have
  materialised `temporal_trends` of its partition (target 45 s). Prints the timeline:
  when the partition was registered and every run the drop caused.
* ui: the `demo` dataset's partitioned assets launched as the UI's Materialize button
  does (GraphQL `launchRun`), against `facesym run --force demo` in another fresh root
  (target: the UI at most 1.5 times the CLI).
* all: "Materialize all" on a fresh instance, as the asset graph's button sends it (one
  backfill of every asset over every partition: a labelled image dataset and a video).

Each measurement gets its own temporary root (data/, warehouse/, DAGSTER_HOME) and stops
only the `dagster dev` process group it started.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import dagster as dg

from facesym_pipeline.apps.dev_server import dagster_dev, graphql
from facesym_pipeline.apps.instance_home import ensure_dagster_home
from facesym_pipeline.demo.samples import sample_path

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_LATENCY_S = 45
TARGET_UI_RATIO = 1.5
SERVER_TIMEOUT_S = 240
RUN_TIMEOUT_S = 900

# What a deployment already holds before the new folder arrives (healthy ranges, models).
EXISTING = (
    "existing",
    {"stroke_data": ["single_face.jpg"], "noStroke_data": ["0-f15-hao-ph.jpg", "obama2.jpg"]},
)
NEW = (
    "arrival",
    {
        "stroke_data": ["obama.jpg", "0-f1-su-ph.jpg", "15-f13-anc-ph.jpg"],
        "noStroke_data": ["biden.jpg", "45-m7-di-ph.jpg", "multi_face.jpg"],
    },
)
DEMO_SOURCES = (PROJECT / "data" / "demo",)

CLI_RUN_LINE = re.compile(r"^\[(?P<label>[^\]]+)\] ok in (?P<seconds>[\d.]+) s")
DONE = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


# --- a temporary project root -----------------------------------------------------------


def use_root(root: Path, hold_automation: bool = False) -> dg.DagsterInstance:
    """Point this process (and the processes it starts) at `root`; returns its instance,
    configured as `facesym` configures the project's own."""
    os.environ.update(
        FACESYM_ROOT=str(root),
        FACESYM_DATA=str(root / "data"),
        FACESYM_WAREHOUSE=str(root / "warehouse"),
        DAGSTER_HOME=str(root / "dagster_home"),
        FACESYM_NATIVE_LOG=str(root / "native.log"),
    )
    (root / "data").mkdir(parents=True, exist_ok=True)
    ensure_dagster_home(hold_automated_runs=hold_automation)
    return dg.DagsterInstance.get()


def write_sample_dataset(folder: Path, layout: dict[str, list[str]]) -> None:
    for label_folder, names in layout.items():
        (folder / label_folder).mkdir(parents=True)
        for name in names:
            shutil.copy(sample_path(name), folder / label_folder / name)


def drop_in(data: Path, key: str, layout: dict[str, list[str]]) -> float:
    """Make the dataset appear under data/ in one rename (a half-copied folder would be
    fingerprinted twice); returns the wall-clock time it appeared."""
    staging = data / f".incoming-{key}"  # dot folders are not datasets
    write_sample_dataset(staging, layout)
    staging.rename(data / key)
    return time.time()


def facesym_run(*args: str) -> tuple[float, list[str]]:
    """`facesym run` in a subprocess with this process's environment: wall time, stdout.
    A run that fails (a check of a cross-dataset model, say) is printed, not fatal: the
    runs timed here are the dataset's; a command that did not finish is fatal."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(BIN / "facesym"), "run", *args], cwd=PROJECT, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    lines = done.stdout.splitlines()
    if done.returncode != 0 and not (lines and " run(s), " in lines[-1]):
        raise RuntimeError(f"facesym run {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    for line in lines:
        if "FAILED" in line:
            print(f"  (facesym run: {line})")
    return elapsed, lines


# --- dagster dev ------------------------------------------------------------------------


def sensor_ticks(instance: dg.DagsterInstance, name: str) -> list:
    for state in instance.all_instigator_state():
        if state.instigator_name == name:
            return list(instance.get_ticks(state.instigator_origin_id, state.selector_id))
    return []


def busy_runs(instance: dg.DagsterInstance) -> list:
    busy = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
    return list(instance.get_run_records(dg.RunsFilter(statuses=busy), limit=1))


def wait_until_daemon_idle(instance: dg.DagsterInstance) -> None:
    """Both sensors have ticked and no run is queued or running: the daemon has taken in
    the existing state, so whatever happens next is caused by the new folder."""
    deadline = time.monotonic() + SERVER_TIMEOUT_S
    while time.monotonic() < deadline:
        ticked = all(sensor_ticks(instance, s) for s in ("dataset_sensor", "automation_sensor"))
        if ticked and not busy_runs(instance):
            return
        time.sleep(1)
    raise RuntimeError("the daemon did not settle: no sensor ticks or runs still going")


def wait_until_settled(instance: dg.DagsterInstance, quiet_s: float, timeout_s: float) -> bool:
    """No run queued or running for `quiet_s` (a few automation ticks): the chain the new
    folder started is over. False when it still ran after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        if busy_runs(instance):
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return True
        time.sleep(1)
    return False


# --- instance records -------------------------------------------------------------------


def latest_event(instance: dg.DagsterInstance, fetch, key: str, partition: str):
    records = fetch(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[partition]), limit=1
    ).records
    return records[0] if records else None


def wait_for_materialisation(
    instance: dg.DagsterInstance, key: str, partition: str, timeout_s: float
):
    """The first materialisation record of `key`[`partition`]."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        record = latest_event(instance, instance.fetch_materializations, key, partition)
        if record is not None:
            return record
        time.sleep(0.5)
    raise TimeoutError(f"{key}[{partition}] not materialised after {timeout_s:.0f} s")


def runs_since(instance: dg.DagsterInstance, since: float) -> list:
    created_after = dt.datetime.fromtimestamp(since, tz=dt.UTC)
    records = instance.get_run_records(dg.RunsFilter(created_after=created_after))
    return sorted(records, key=lambda r: r.create_timestamp.timestamp())


STEP_EVENTS = {
    dg.DagsterEventType.STEP_START,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
}


def run_line(record, t0: float) -> str:
    run = record.dagster_run
    created = record.create_timestamp.timestamp() - t0
    start = f"+{record.start_time - t0:5.1f}" if record.start_time else "    -"
    end = f"+{record.end_time - t0:5.1f}" if record.end_time else "    -"
    partition = run.tags.get("dagster/partition", "all datasets")
    assets = len(run.asset_selection or ())
    return (
        f"  run {run.run_id[:8]} created +{created:5.1f} started {start} ended {end}"
        f"  {run.status.value:8} [{partition}] {assets} asset(s)"
    )


def root_cause(error) -> str:
    """The innermost error's last line: Dagster wraps what the asset raised."""
    if error is None:
        return "failed"
    while error.cause is not None:
        error = error.cause
    lines = error.message.strip().splitlines()
    return lines[-1] if lines else error.cls_name or "failed"


def step_lines(instance: dg.DagsterInstance, run_id: str, min_s: float = 1.0) -> list[str]:
    """Steps of a run that took at least `min_s`, and why any step failed: where a run's
    time goes."""
    started: dict[str, float] = {}
    lines = []
    for entry in instance.all_logs(run_id, of_type=STEP_EVENTS):
        event = entry.dagster_event
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
            continue
        took = entry.timestamp - started.get(event.step_key, entry.timestamp)
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            why = root_cause(event.step_failure_data.error)
            lines.append(f"      {event.step_key} FAILED after {took:.1f} s: {why[:160]}")
        elif took >= min_s:
            lines.append(f"      {event.step_key} {took:.1f} s")
    return lines


# --- measurement 1: new folder to trends ------------------------------------------------


def measure_latency() -> None:
    with tempfile.TemporaryDirectory(prefix="facesym-latency-") as tmp:
        root = Path(tmp)
        instance = use_root(root)
        existing_key, existing_layout = EXISTING
        write_sample_dataset(root / "data" / existing_key, existing_layout)
        prepare_s, _ = facesym_run()
        print(f"existing 3-image dataset brought up to date by facesym run in {prepare_s:.0f} s")

        with dagster_dev(os.environ.copy(), root / "dagster_dev.log"):
            wait_until_daemon_idle(instance)
            key, layout = NEW
            t0 = drop_in(root / "data", key, layout)
            trends = wait_for_materialisation(instance, "temporal_trends", key, RUN_TIMEOUT_S)
            print(
                f"new folder to trends: {trends.timestamp - t0:.1f} s (target {TARGET_LATENCY_S} s)"
            )
            # The rest of the chain (cross-dataset refits and what follows them) is part
            # of the timeline, not of the target.
            settled = wait_until_settled(instance, quiet_s=20, timeout_s=RUN_TIMEOUT_S)
            print_timeline(instance, key, t0, trends, settled)


def print_timeline(instance: dg.DagsterInstance, key: str, t0: float, trends, settled: bool):
    observed = latest_event(instance, instance.fetch_observations, "dataset_files", key)
    print("  folder appeared       +  0.0")
    if observed is not None:
        print(f"  partition registered  +{observed.timestamp - t0:5.1f} (dataset_files observed)")
    runs = runs_since(instance, t0)
    for record in runs:
        print(run_line(record, t0))
        for line in step_lines(instance, record.dagster_run.run_id):
            print(line)
    print(
        f"  trends first          +{trends.timestamp - t0:5.1f} by run {trends.run_id[:8]}; "
        f"{len(runs)} run(s) in all, "
        + ("then idle" if settled else "still running at the timeout")
    )
    # Trends of a new dataset are judged again once the healthy ranges include it.
    last = latest_event(instance, instance.fetch_materializations, "temporal_trends", key)
    if last.storage_id != trends.storage_id:
        print(f"  trends again          +{last.timestamp - t0:5.1f} by run {last.run_id[:8]}")


# --- measurement 2: demo from the UI vs the CLI -----------------------------------------


def demo_source(given: Path | None) -> Path:
    for candidate in [given] if given else DEMO_SOURCES:
        if (candidate / "stroke_data").is_dir():
            return candidate
    raise FileNotFoundError("no demo dataset: run `facesym demo-data` first (or give --demo)")


def measure_cli(source: Path) -> tuple[float, float, float]:
    """`facesym run --force demo` in a fresh root: (the forced run of demo's partitioned
    assets, every demo run together, the whole command)."""
    with tempfile.TemporaryDirectory(prefix="facesym-cli-") as tmp:
        root = Path(tmp)
        use_root(root)
        shutil.copytree(source, root / "data" / "demo")
        total_s, lines = facesym_run("--force", "demo")
    demo_runs = [
        float(m["seconds"]) for m in map(CLI_RUN_LINE.match, lines) if m and m["label"] == "demo"
    ]
    return demo_runs[0], sum(demo_runs), total_s


LOCATION_QUERY = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}"""


def partitioned_asset_keys() -> list[dg.AssetKey]:
    """What `facesym run --force` materialises: every partitioned asset of the graph."""
    from facesym_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    return [k for k in graph.materializable_asset_keys if graph.get(k).partitions_def]


def launch_from_ui(base: str, partition: str) -> str:
    """What the asset graph's Materialize button sends for one partition of the selected
    assets: one run of the implicit asset job, the same assets `--force` runs."""
    location = graphql(base, LOCATION_QUERY)["workspaceOrError"]["locationEntries"][0]["name"]
    params = {
        "selector": {
            "repositoryLocationName": location,
            "repositoryName": "__repository__",
            "jobName": "__ASSET_JOB",
            "assetSelection": [{"path": key.path} for key in partitioned_asset_keys()],
        },
        "mode": "default",
        "runConfigData": {},
        "executionMetadata": {
            "tags": [
                {"key": "dagster/partition", "value": partition},
                {"key": "dagster/from_ui", "value": "true"},
            ]
        },
    }
    result = graphql(base, LAUNCH_RUN, {"params": params})["launchRun"]
    if result["__typename"] != "LaunchRunSuccess":
        raise RuntimeError(f"launchRun: {result}")
    return result["run"]["runId"]


def wait_for_run(instance: dg.DagsterInstance, run_id: str) -> float:
    """Wall-clock time the run was seen finished; raises unless it succeeded."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run is not None and run.status in DONE:
            if run.status != dg.DagsterRunStatus.SUCCESS:
                raise RuntimeError(f"run {run_id} {run.status.value}")
            return time.time()
        time.sleep(0.5)
    raise TimeoutError(f"run {run_id} not finished after {RUN_TIMEOUT_S} s")


def measure_ui(source: Path) -> tuple[float, float, float]:
    """The UI launch in a fresh root with automation runs held: (launch to success seen,
    launch to run start, run start to end)."""
    with tempfile.TemporaryDirectory(prefix="facesym-ui-") as tmp:
        root = Path(tmp)
        instance = use_root(root, hold_automation=True)
        shutil.copytree(source, root / "data" / "demo")
        instance.add_dynamic_partitions("dataset", ["demo"])
        with dagster_dev(os.environ.copy(), root / "dagster_dev.log") as base:
            launched = time.time()
            run_id = launch_from_ui(base, "demo")
            finished = wait_for_run(instance, run_id)
            record = instance.get_run_records(dg.RunsFilter(run_ids=[run_id]))[0]
        return (
            finished - launched,
            record.start_time - launched,
            record.end_time - record.start_time,
        )


def measure_ui_vs_cli(given: Path | None) -> None:
    source = demo_source(given)
    media = sum(1 for p in source.rglob("*") if p.is_file() and p.suffix != ".csv")
    print(f"demo dataset: {source} ({media} media)")
    cli_run_s, cli_demo_s, cli_total_s = measure_cli(source)
    print(
        f"  CLI: forced demo run {cli_run_s:.1f} s, all demo runs {cli_demo_s:.1f} s, "
        f"whole `facesym run --force demo` {cli_total_s:.1f} s"
    )
    ui_s, ui_wait_s, ui_run_s = measure_ui(source)
    print(
        f"  UI: launch to success {ui_s:.1f} s = {ui_wait_s:.1f} s to run start "
        f"+ {ui_run_s:.1f} s run (+ polling)"
    )
    print(
        f"demo from the UI: {ui_s:.1f} s, from the CLI: {cli_run_s:.1f} s, "
        f"ratio {ui_s / cli_run_s:.2f} (target <= {TARGET_UI_RATIO})"
    )


LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}"""
BACKFILL_STATUS = (
    '{ partitionBackfillOrError(backfillId: "%s") { ... on PartitionBackfill { status } } }'
)


def measure_materialize_all(timeout_s: float = 1800) -> None:
    """ "Materialize all" on a fresh instance, as the asset graph's button sends it: one
    backfill of every asset over every partition (a labelled image dataset and a video)."""
    from facesym_pipeline.definitions import defs

    with tempfile.TemporaryDirectory(prefix="facesym-all-") as tmp:
        root = Path(tmp)
        instance = use_root(root, hold_automation=True)
        write_sample_dataset(root / "data" / "mini", NEW[1])
        write_sample_dataset(root / "data" / "clips", {".": ["single_face.mp4"]})
        instance.add_dynamic_partitions("dataset", ["mini", "clips"])
        keys = sorted(defs.resolve_asset_graph().materializable_asset_keys)
        with dagster_dev(os.environ.copy(), root / "dagster_dev.log") as base:
            started = time.monotonic()
            params = {"assetSelection": [{"path": k.path} for k in keys], "allPartitions": True}
            launched = graphql(base, LAUNCH_BACKFILL, {"params": params})
            backfill_id = launched["launchPartitionBackfill"].get("backfillId")
            if backfill_id is None:
                raise RuntimeError(f"backfill not launched: {launched}")
            status = "REQUESTED"
            while status == "REQUESTED" and time.monotonic() - started < timeout_s:
                time.sleep(5)
                status = graphql(base, BACKFILL_STATUS % backfill_id)["partitionBackfillOrError"][
                    "status"
                ]
            runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            by_status = Counter(r.dagster_run.status.value for r in runs)
            print(
                f"materialize all on a fresh instance: {status} in "
                f"{time.monotonic() - started:.0f} s, {len(keys)} assets x 2 partitions, "
                f"runs {dict(by_status)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["latency", "ui", "all"], help="one measurement only")
    parser.add_argument("--demo", type=Path, help="the demo dataset folder to copy")
    args = parser.parse_args()
    if args.only in (None, "latency"):
        measure_latency()
    if args.only in (None, "ui"):
        measure_ui_vs_cli(args.demo)
    if args.only in (None, "all"):
        measure_materialize_all()


if __name__ == "__main__":
    main()
