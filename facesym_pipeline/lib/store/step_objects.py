"""The tables that steps of one run hand each other, kept as objects in the lake's storage
under `_steps/<run_id>/` (a prefix that is no table name, so the lake's table listing and
the catalog skip it).

A successful run removes its own objects. A run that fails or is cancelled keeps them, so
that a re-execution from the failure can read what its finished steps wrote; once nothing
has been written under a run's prefix for the retention period, and no unfinished run
descends from it, the prefix is swept.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

from facesym_pipeline.lib.store.object_store import ObjectStore

STEPS_PREFIX = "_steps"
RETENTION_ENV = "FACESYM_STEP_TABLES_RETENTION_H"
DEFAULT_RETENTION_H = 168.0  # a week: time to look at a failed run and re-execute it


def run_prefix(run_id: str) -> str:
    return f"{STEPS_PREFIX}/{run_id}"


def retention_s() -> float:
    """How long a failed run's step objects are kept: FACESYM_STEP_TABLES_RETENTION_H
    hours, else a week."""
    hours = float(os.environ.get(RETENTION_ENV) or DEFAULT_RETENTION_H)
    if hours < 0:
        raise ValueError(f"{RETENTION_ENV} must not be negative, not {hours}")
    return hours * 3600.0


def delete_run_objects(store: ObjectStore, run_id: str) -> int:
    """Remove every object under the run's prefix; how many there were. A local store
    also loses the emptied folders."""
    names = store.list(run_prefix(run_id))
    for name in names:
        store.delete(name)
    if store.local:
        shutil.rmtree(store.uri_of(run_prefix(run_id)), ignore_errors=True)
    return len(names)


def last_writes(store: ObjectStore) -> dict[str, float]:
    """Each run with step objects, and when the last of them was written (Unix s)."""
    newest: dict[str, float] = {}
    for name, written_s in store.written_at(STEPS_PREFIX).items():
        run_id = name.split("/")[1]
        newest[run_id] = max(newest.get(run_id, written_s), written_s)
    return newest


def stale_runs(
    last_write_s: dict[str, float], protected: Iterable[str], now_s: float, keep_s: float
) -> list[str]:
    """The runs whose step objects may go: nothing written for `keep_s` seconds, and not
    `protected` (a run not finished yet, or one an unfinished re-execution reads from).
    Object age rather than the run's record decides, so a run the instance does not know
    (another instance's, or a deleted run) is swept too, and never while it still writes."""
    keep = set(protected)
    return sorted(
        run_id
        for run_id, written_s in last_write_s.items()
        if run_id not in keep and now_s - written_s > keep_s
    )


def sweep(
    store: ObjectStore, protected: Iterable[str], now_s: float, keep_s: float
) -> dict[str, int]:
    """Remove the step objects of every stale run (`stale_runs`); how many each had."""
    stale = stale_runs(last_writes(store), protected, now_s, keep_s)
    return {run_id: delete_run_objects(store, run_id) for run_id in stale}
