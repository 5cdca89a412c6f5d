"""Materialise dataset partitions through Dagster from the command line, skipping those
whose content and code are unchanged since their last successful run.

Stages: (1) each changed dataset up to its per-media features and crops; (2) what is
computed over all datasets: healthy ranges, the classifier, the dictionary and exports;
(3) the image models and shortcut audit, when their dataset is present; (4) video
trends of every dataset, against the new healthy ranges; (5) the DuckDB catalog, written
last by this one step.
"""

from __future__ import annotations

from collections.abc import Callable

import dagster as dg

from facesym_pipeline.defs.deep_models.assets import DEFAULT_AUDIT_DATASET
from facesym_pipeline.defs.ingest.fingerprints import recorded_metadata
from facesym_pipeline.defs.jobs import DATASET_ASSETS, TREND_ASSETS
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.lib.code_version import code_version
from facesym_pipeline.lib.paths import data_root, dataset_dir, warehouse_root
from facesym_pipeline.lib.store.fingerprints import HashCache, dataset_fingerprint

_RUN_TAG = "facesym/code_version"
# Step-level progress without Dagster's per-event debug lines.
_CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
CATALOG = dg.AssetKey("warehouse_catalog")
# Computed from every dataset's video trends, so run with the catalog after the trends.
AFTER_TRENDS = [dg.AssetKey("sequence_model"), CATALOG]


def _keys(assets) -> list[dg.AssetKey]:
    return [key for asset in assets for key in asset.keys]


def _up_to_date(instance: dg.DagsterInstance, key: str, fingerprint: str) -> bool:
    if recorded_metadata(instance, "media_inventory", key, "dataset_fingerprint") != fingerprint:
        return False
    runs = instance.get_run_records(
        dg.RunsFilter(
            job_name="dataset_job",
            statuses=[dg.DagsterRunStatus.SUCCESS],
            tags={"dagster/partition": key, _RUN_TAG: code_version(), "facesym/stage": "trends"},
        ),
        limit=1,
    )
    return bool(runs)


class _Stages:
    def __init__(self, instance: dg.DagsterInstance, say: Callable[[str], None], run_config):
        from facesym_pipeline.definitions import defs

        self.instance, self.say = instance, say
        self.run_config = {**_CONSOLE_INFO, **(run_config or {})}
        self.dataset_job = defs.resolve_job_def("dataset_job")
        self.warehouse_job = defs.resolve_job_def("warehouse_job")
        self.deep_models_job = defs.resolve_job_def("deep_models_job")
        self.warehouse_keys = [
            k for k in defs.resolve_asset_graph().get_all_asset_keys()
            if k in self.warehouse_job.asset_layer.selected_asset_keys and k not in AFTER_TRENDS
        ]  # fmt: skip

    def dataset(self, key: str, assets, stage: str) -> bool:
        result = self.dataset_job.execute_in_process(
            partition_key=key,
            instance=self.instance,
            asset_selection=_keys(assets),
            run_config=self.run_config,
            tags={_RUN_TAG: code_version(), "facesym/stage": stage},
            raise_on_error=False,
        )
        self.say(
            f"[{key}] {stage}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})"
        )
        return result.success

    def warehouse(self, keys: list[dg.AssetKey], stage: str) -> bool:
        result = self.warehouse_job.execute_in_process(
            instance=self.instance,
            asset_selection=keys,
            run_config=self.run_config,
            raise_on_error=False,
        )
        self.say(
            f"[warehouse] {stage}: {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})"
        )
        return result.success

    def deep_models(self) -> bool:
        result = self.deep_models_job.execute_in_process(
            instance=self.instance, run_config=self.run_config, raise_on_error=False
        )
        self.say(f"[deep models] {'ok' if result.success else 'FAILED'} (run {result.run_id[:8]})")
        return result.success


def run_datasets(
    keys: list[str],
    force: bool = False,
    say: Callable[[str], None] = print,
    run_config: dict | None = None,
) -> dict[str, str]:
    """Register and materialise each dataset and everything computed over all datasets.

    Returns {key: "materialised" | "up to date" | "failed"} (plus "warehouse" on failure).
    """
    instance = dg.DagsterInstance.get()
    known = set(instance.get_dynamic_partitions(dataset_partitions.name))
    new = [k for k in keys if k not in known]
    if new:
        instance.add_dynamic_partitions(dataset_partitions.name, new)
        say(f"registered dataset partitions: {', '.join(new)}")
    stages = _Stages(instance, say, run_config)
    cache = HashCache(warehouse_root() / ".cache" / "file_hashes.json")
    outcome: dict[str, str] = {}
    for key in keys:
        fingerprint = dataset_fingerprint(dataset_dir(key, data_root()), cache)
        cache.save()
        if not force and _up_to_date(instance, key, fingerprint):
            say(f"[{key}] up to date (content {fingerprint[:12]}, code {code_version()})")
            outcome[key] = "up to date"
            continue
        outcome[key] = (
            "materialised" if stages.dataset(key, DATASET_ASSETS, "features") else "failed"
        )
    changed = any(v != "up to date" for v in outcome.values())
    if changed or not (warehouse_root() / "facesym.duckdb").is_file():
        if not stages.warehouse(stages.warehouse_keys, "models and exports"):
            outcome["warehouse"] = "failed"
        if DEFAULT_AUDIT_DATASET in keys and outcome[DEFAULT_AUDIT_DATASET] != "failed":
            if not stages.deep_models():
                outcome["deep models"] = "failed"
        for key in keys:
            if outcome[key] != "failed" and not stages.dataset(key, TREND_ASSETS, "trends"):
                outcome[key] = "failed"
        if not stages.warehouse(AFTER_TRENDS, "sequence model and catalog"):
            outcome["warehouse"] = "failed"
    return outcome
