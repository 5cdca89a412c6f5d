"""Metadata every table asset reports: row count, column schema (with units from the
feature dictionary), a markdown preview, counts by reason."""

from __future__ import annotations

from functools import cache

import dagster as dg
import polars as pl

from facesym_pipeline.lib.measure.feature_dictionary import feature_dictionary
from facesym_pipeline.lib.render.markdown import counts_table, markdown_table


@cache
def _described_columns() -> dict[str, str]:
    """Column name -> "unit; formula" from the feature dictionary (units in the UI)."""
    table = feature_dictionary()
    return {
        row["name"]: f"[{row['unit']}] {row['formula']}"
        for row in table.select("name", "unit", "formula").iter_rows(named=True)
    }


def table_spec(name: str, written_by: str, description: str, kinds=("parquet",)) -> dg.AssetSpec:
    """A lake table that the step materialising `written_by` writes next to it (a
    multi-asset's further output): an asset of its own, downstream of that one."""
    return dg.AssetSpec(name, deps=[written_by], description=description, kinds=set(kinds))


def column_schema(frame: pl.DataFrame) -> dg.TableSchema:
    """The table's columns with their types, and unit and formula where the feature
    dictionary defines the column."""
    described = _described_columns()
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=described.get(name))
            for name, dtype in frame.schema.items()
        ]
    )


def table_metadata(
    frame: pl.DataFrame, path=None, counts: dict[str, int] | None = None, **extra
) -> dict:
    meta = {
        "dagster/row_count": frame.height,
        "dagster/column_schema": column_schema(frame),
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
