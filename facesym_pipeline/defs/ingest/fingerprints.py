"""What the Dagster instance last recorded about a dataset partition."""

from __future__ import annotations

import dagster as dg


def recorded_metadata(instance: dg.DagsterInstance, asset: str, key: str, name: str):
    """A metadata value of the latest materialisation of `asset` for partition `key`."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    if not records:
        return None
    entry = records[0].asset_materialization.metadata.get(name)
    return None if entry is None else entry.value
