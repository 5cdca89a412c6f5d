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
