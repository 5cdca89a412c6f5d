"""`facesym run`: bring every asset up to date by the same automation conditions the
daemon evaluates, executed in this process.

After observing data/ once, each round asks Dagster which assets and partitions are due
(missing, something they read changed, or their code changed) and materialises them: per
dataset, then across datasets, then each dataset's image models in a run of their own,
until nothing is due. The
conditions' cursor is kept in the instance folder, so a second `facesym run` knows what the
first one did, and a run from the UI counts as done work for both.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.definitions.asset_daemon_cursor import AssetDaemonCursor
from dagster._serdes import deserialize_value, serialize_value

from facesym_pipeline.defs.automation import OWN_RUN_GROUPS
from facesym_pipeline.defs.ingest.observe import invalid_folder_line, register_and_observe
from facesym_pipeline.lib.store.fingerprints import HashCache

# Enough for the deepest chain of the graph, with a margin: a loop that does not converge
# is a bug to report, not to wait on.
MAX_ROUNDS = 30
# Progress and failures are printed by this module, one line each; Dagster's console stays
# quiet (every event, tracebacks included, is in the instance and shown by the UI).
_QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dataclass
class RunOutcome:
    runs: list[tuple[str, list[str], bool, float]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(not ok for _, _, ok, _ in self.runs)


def _cursor_file(instance: dg.DagsterInstance) -> Path:
    return Path(instance.root_directory) / "facesym_automation_cursor.json"


def _load_cursor(instance: dg.DagsterInstance) -> AssetDaemonCursor | None:
    path = _cursor_file(instance)
    if not path.is_file():
        return None
    try:
        return deserialize_value(path.read_text(), AssetDaemonCursor)
    except Exception:  # an unreadable cursor only costs one extra evaluation round
        return None


def _save_cursor(instance: dg.DagsterInstance, cursor: AssetDaemonCursor) -> None:
    path = _cursor_file(instance)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(serialize_value(cursor))
    tmp.replace(path)


@contextmanager
def _partitions_read_once(instance: dg.DagsterInstance):
    """Serialising an evaluation asks the instance for the dataset partitions thousands of
    times (the daemon caches them; this entry point does not): answer from one read."""
    instance.get_dynamic_partitions = functools.cache(
        type(instance).get_dynamic_partitions.__get__(instance)
    )
    try:
        yield
    finally:
        del instance.get_dynamic_partitions


def _due(defs: dg.Definitions, instance, cursor):
    with _partitions_read_once(instance), warnings.catch_warnings():
        # The evaluation helper selects sources with a parameter Dagster marks as beta.
        warnings.simplefilter("ignore", dg.BetaWarning)
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
    by_partition: dict[str | None, list[dg.AssetKey]] = {}
    for asset_partition in result._requested_asset_partitions:  # noqa: SLF001
        by_partition.setdefault(asset_partition.partition_key, []).append(asset_partition.asset_key)
    return result.cursor, by_partition


def _in_order(due: dict[str | None, list[dg.AssetKey]], graph):
    """The runs of one round: each dataset's own work first, then what spans all datasets
    (it reads them), then each dataset's image models (minutes of training that nothing
    else in the round should wait for)."""
    runs = []
    for partition in sorted(p for p in due if p is not None):
        light = [k for k in due[partition] if graph.get(k).group_name not in OWN_RUN_GROUPS]
        heavy = [k for k in due[partition] if graph.get(k).group_name in OWN_RUN_GROUPS]
        runs += [(0, partition, light)] if light else []
        runs += [(2, partition, heavy)] if heavy else []
    if None in due:
        runs.append((1, None, due[None]))
    return [
        (partition, keys) for _, partition, keys in sorted(runs, key=lambda r: (r[0], r[1] or ""))
    ]


def _failure_line(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            message = event.step_failure_data.error.message.strip().splitlines()
            return f"{event.step_key}: {message[-1] if message else 'failed'}"
    return "failed"


def materialize_due(
    data_dir: Path,
    cache: HashCache,
    say: Callable[[str], None] = print,
    force: list[str] | None = None,
) -> RunOutcome:
    """Observe data/, then materialise what the automation conditions say is due.

    `force`: dataset keys whose partitioned assets are all re-materialised first, whatever
    their state (what is downstream of them then follows by the same conditions).
    """
    from facesym_pipeline.definitions import defs

    instance = dg.DagsterInstance.get()
    job = defs.resolve_implicit_global_asset_job_def()
    outcome = RunOutcome()
    cursor = _load_cursor(instance)
    if cursor is None:
        # A first evaluation only records the starting state: what exists and is missing.
        cursor, _ = _due(defs, instance, None)
    decided = register_and_observe(instance, data_dir, cache)
    if decided.invalid:
        say(invalid_folder_line(decided.invalid))
    for key in decided.new:
        say(f"[{key}] new dataset")
    for key in decided.changed:
        say(f"[{key}] content changed")

    graph = defs.resolve_asset_graph()
    order = {key: i for i, key in enumerate(graph.toposorted_asset_keys)}

    def execute(partition: str | None, keys: list[dg.AssetKey]) -> None:
        label = partition or "all datasets"
        names = [k.to_user_string() for k in sorted(keys, key=order.__getitem__)]
        shown = ", ".join(names) if len(names) <= 4 else f"{names[0]} … {names[-1]}"
        say(f"[{label}] {len(names)} asset(s): {shown}")
        started = time.perf_counter()
        result = job.execute_in_process(
            asset_selection=keys,
            partition_key=partition,
            instance=instance,
            run_config=_QUIET,
            raise_on_error=False,
        )
        elapsed_s = time.perf_counter() - started
        outcome.runs.append((label, names, result.success, elapsed_s))
        state = "ok" if result.success else f"FAILED ({_failure_line(result)})"
        say(f"[{label}] {state} in {elapsed_s:.1f} s (run {result.run_id[:8]})")

    if force:
        partitioned = [
            k for k in graph.materializable_asset_keys if graph.get(k).partitions_def is not None
        ]
        for key in force:
            execute(key, partitioned)

    for _ in range(MAX_ROUNDS):
        cursor, due = _due(defs, instance, cursor)
        _save_cursor(instance, cursor)
        if not due:
            return outcome
        for partition, keys in _in_order(due, graph):
            execute(partition, keys)
    raise RuntimeError(f"assets still due after {MAX_ROUNDS} rounds: {sorted(map(str, due))}")
