"""The one way a dataset's content becomes known to Dagster: register its folder as a
partition and record its content fingerprint as the data version of `dataset_files`.
The sensor and `facesym run` both call this, so both see the same staleness."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.lib.media.dataset_watch import WatchPlan, current_fingerprints, plan
from facesym_pipeline.lib.store.fingerprints import HashCache

DATASET_FILES = dg.AssetKey("dataset_files")
# Where Dagster keeps the data version of an observation (what staleness compares).
DATA_VERSION_TAG = "dagster/data_version"


def recorded_fingerprint(instance: dg.DagsterInstance, key: str) -> str | None:
    """The content fingerprint last observed for dataset `key` (None: never observed)."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=DATASET_FILES, asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    return records[0].asset_observation.tags.get(DATA_VERSION_TAG)


def observation(key: str, fingerprint: str) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=DATASET_FILES,
        partition=key,
        tags={DATA_VERSION_TAG: fingerprint},
        metadata={"dataset_fingerprint": fingerprint},
    )


def watch(instance: dg.DagsterInstance, data_dir: Path, cache: HashCache) -> WatchPlan:
    """What is new or changed under `data_dir` compared with what the instance recorded."""
    current, invalid = current_fingerprints(data_dir, cache)
    known = set(instance.get_dynamic_partitions(dataset_partitions.name))
    recorded = {key: recorded_fingerprint(instance, key) for key in current if key in known}
    return plan(recorded, current, known, invalid)


def observations(decided: WatchPlan) -> list[dg.AssetObservation]:
    return [observation(key, decided.fingerprints[key]) for key in decided.to_observe]


def invalid_folder_line(invalid: list[str]) -> str:
    return (
        f"{len(invalid)} folder(s) under data/ left out, their names give no valid or no "
        f"unique dataset key (rename to [a-z0-9][a-z0-9_-]*): {', '.join(invalid)}"
    )


def register_and_observe(
    instance: dg.DagsterInstance, data_dir: Path, cache: HashCache
) -> WatchPlan:
    """Outside a sensor (the CLI): add new partitions and record observations directly."""
    decided = watch(instance, data_dir, cache)
    if decided.new:
        instance.add_dynamic_partitions(dataset_partitions.name, decided.new)
    for event in observations(decided):
        instance.report_runless_asset_event(event)
    return decided
