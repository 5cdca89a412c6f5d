"""Materialise dataset partitions through Dagster from the command line, skipping those
whose content and code are unchanged since their last successful run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg

from facesym_pipeline.defs.ingest.fingerprints import recorded_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.lib.code_version import code_version
from facesym_pipeline.lib.fingerprint import HashCache, dataset_fingerprint
from facesym_pipeline.lib.paths import data_root, dataset_dir, warehouse_root

_RUN_TAG = "facesym/code_version"
# Step-level progress without Dagster's per-event debug lines.
_CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _up_to_date(instance: dg.DagsterInstance, key: str, fingerprint: str) -> bool:
    if recorded_metadata(instance, "media_inventory", key, "dataset_fingerprint") != fingerprint:
        return False
    runs = instance.get_run_records(
        dg.RunsFilter(
            job_name="dataset_job",
            statuses=[dg.DagsterRunStatus.SUCCESS],
            tags={"dagster/partition": key, _RUN_TAG: code_version()},
        ),
        limit=1,
    )
    return bool(runs)


def run_datasets(
    keys: list[str],
    force: bool = False,
    say: Callable[[str], None] = print,
    run_config: dict | None = None,
) -> dict[str, str]:
    """Register and materialise each dataset; then the unpartitioned warehouse assets.

    Returns {key: "materialised" | "up to date" | "failed"}.
    """
    from facesym_pipeline.definitions import defs

    instance = dg.DagsterInstance.get()
    known = set(instance.get_dynamic_partitions(dataset_partitions.name))
    new = [k for k in keys if k not in known]
    if new:
        instance.add_dynamic_partitions(dataset_partitions.name, new)
        say(f"registered dataset partitions: {', '.join(new)}")
    cache = HashCache(warehouse_root() / ".cache" / "file_hashes.json")
    outcome: dict[str, str] = {}
    job = defs.resolve_job_def("dataset_job")
    for key in keys:
        fingerprint = dataset_fingerprint(dataset_dir(key, data_root()), cache)
        cache.save()
        if not force and _up_to_date(instance, key, fingerprint):
            say(f"[{key}] up to date (content {fingerprint[:12]}, code {code_version()})")
            outcome[key] = "up to date"
            continue
        say(f"[{key}] materialising {', '.join(k.to_user_string() for k in _job_assets(defs))}")
        result = job.execute_in_process(
            partition_key=key,
            instance=instance,
            run_config={**_CONSOLE_INFO, **(run_config or {})},
            tags={_RUN_TAG: code_version()},
            raise_on_error=False,
        )
        outcome[key] = "materialised" if result.success else "failed"
        say(f"[{key}] {outcome[key]} (run {result.run_id[:8]})")
    if any(v == "materialised" for v in outcome.values()) or not _catalog_exists():
        warehouse = defs.resolve_job_def("warehouse_job")
        result = warehouse.execute_in_process(
            instance=instance, run_config=_CONSOLE_INFO, raise_on_error=False
        )
        say(
            f"[warehouse] {'materialised' if result.success else 'failed'} (run {result.run_id[:8]})"
        )
        if not result.success:
            outcome["warehouse"] = "failed"
    return outcome


def _job_assets(defs: dg.Definitions) -> list[dg.AssetKey]:
    return sorted(defs.resolve_job_def("dataset_job").asset_layer.selected_asset_keys)


def _catalog_exists() -> bool:
    return Path(warehouse_root() / "facesym.duckdb").is_file()
