"""Small markdown renderings for asset metadata (no pixels ever: only table values)."""

from __future__ import annotations

import base64
from pathlib import Path

import polars as pl


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(
    frame: pl.DataFrame, max_rows: int = 10, columns: list[str] | None = None
) -> str:
    """A preview of the first rows; list/array columns are left out (they are landmarks)."""
    columns = columns or [
        c for c, t in frame.schema.items() if not isinstance(t, (pl.List, pl.Array))
    ]
    if not columns:
        return "(no scalar columns)"
    head = frame.select(columns).head(max_rows)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in head.iter_rows()]
    if frame.height > max_rows:
        lines.append(f"\n({frame.height} rows, first {max_rows} shown)")
    return "\n".join(lines)


def counts_table(counts: dict[str, int], key: str = "reason", value: str = "count") -> str:
    if not counts:
        return "(none)"
    rows = [f"| {k} | {v} |" for k, v in counts.items()]
    return "\n".join([f"| {key} | {value} |", "|---|---|", *rows])


def inline_png(path: Path, alt: str) -> str:
    """A markdown image with the PNG embedded, so it shows in the Dagster UI."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f"![{alt}](data:image/png;base64,{data})"
