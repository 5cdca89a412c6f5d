"""The one Dagster `Definitions` of the project: everything defined under `defs/`, found
by Dagster's defs-folder loading (project settings in pyproject.toml's [tool.dg]); then
every asset gets its automation condition and a code version of the code it runs."""

import hashlib
from pathlib import Path

import dagster as dg

from facesym_pipeline.defs.automation import condition_for
from facesym_pipeline.lib.code_version import callable_code_version


def _complete(spec: dg.AssetSpec, version: str, partitioned: dict) -> dg.AssetSpec:
    own = spec.partitions_def is not None
    other = [d.asset_key for d in spec.deps if partitioned.get(d.asset_key, own) != own]
    return spec.replace_attributes(
        code_version=version,
        automation_condition=spec.automation_condition or condition_for(spec, other),
    )


def _code_version(assets: dg.AssetsDefinition) -> str:
    """The version of the code an asset runs: its function's, or for a graph-backed asset
    the versions of its ops' functions, combined in the order of the ops' names."""
    if not isinstance(assets.node_def, dg.GraphDefinition):
        return callable_code_version(assets.op.compute_fn.decorated_fn)
    digest = hashlib.sha256()
    for op in sorted(assets.node_def.iterate_op_defs(), key=lambda op: op.name):
        digest.update(f"{op.name}={callable_code_version(op.compute_fn.decorated_fn)};".encode())
    return digest.hexdigest()[:16]


def _versioned_and_automated(loaded: dg.Definitions) -> dg.Definitions:
    # Modules import each other's assets (for deps), so the loader sees one object many times.
    unique = list({id(assets): assets for assets in loaded.assets or []}.values())
    partitioned = {
        spec.key: spec.partitions_def is not None
        for assets in unique
        if isinstance(assets, dg.AssetsDefinition)
        for spec in assets.specs
    }
    completed = []
    for assets in unique:
        if isinstance(assets, dg.AssetsDefinition) and assets.is_materializable:
            version = _code_version(assets)
            assets = assets.map_asset_specs(lambda spec, v=version: _complete(spec, v, partitioned))
        completed.append(assets)
    return dg.Definitions(
        assets=completed,
        asset_checks=list({id(c): c for c in loaded.asset_checks or []}.values()),
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=loaded.sensors,
        resources=loaded.resources,
        executor=loaded.executor,
        loggers=loaded.loggers,
        metadata=loaded.metadata,
    )


defs = _versioned_and_automated(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
