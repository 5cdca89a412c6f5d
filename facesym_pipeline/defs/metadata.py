"""Metadata every table asset reports: row count, a markdown preview, counts by reason."""

from __future__ import annotations

import dagster as dg
import polars as pl

from facesym_pipeline.lib.render.markdown import counts_table, markdown_table


def table_metadata(
    frame: pl.DataFrame, path=None, counts: dict[str, int] | None = None, **extra
) -> dict:
    meta = {
        "dagster/row_count": frame.height,
        "preview": dg.MetadataValue.md(markdown_table(frame)),
    }
    if path is not None:
        meta["path"] = dg.MetadataValue.path(str(path))
    if counts is not None:
        meta["rejections_by_reason"] = dg.MetadataValue.md(counts_table(counts))
        meta["rejected"] = sum(counts.values())
    meta.update(extra)
    return meta


def skipped_results(context, reason: str):
    """One result per asset the step was asked for, each saying why there was nothing to
    do: an outcome visible in the UI, not a failure. A multi-asset's own tables come
    after the asset they derive from, as Dagster requires."""
    specs = [s for s in context.assets_def.specs if s.key in context.selected_asset_keys]
    keys = {s.key for s in specs}
    for spec in sorted(specs, key=lambda s: sum(d.asset_key in keys for d in s.deps)):
        yield dg.MaterializeResult(
            asset_key=spec.key, metadata={"dagster/row_count": 0, "skipped": reason}
        )
