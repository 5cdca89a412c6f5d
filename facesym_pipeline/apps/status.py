"""A plain-text summary of what the warehouse holds."""

from __future__ import annotations

from pathlib import Path

from facesym_pipeline.lib.store.catalog import table_counts
from facesym_pipeline.lib.store.lake import Lake


def status_report(warehouse: Path) -> str:
    lake = Lake(warehouse)
    lines = [f"warehouse: {warehouse}", "", "lake tables (partitions):"]
    tables = lake.tables()
    if not tables:
        lines.append("  (empty: run `facesym run`)")
    for table in tables:
        parts = lake.partitions(table)
        lines.append(f"  {table:28s} {', '.join(parts) if parts else '(unpartitioned)'}")
    db = warehouse / "facesym.duckdb"
    counts = table_counts(db)
    lines += ["", f"DuckDB catalog {db} (views, rows):"]
    lines += [f"  {name:28s} {rows:>10,d}" for name, rows in counts.items()] or ["  (none)"]
    outputs = sorted(
        p
        for sub in ("exports", "reports", "models")
        for p in (warehouse / sub).rglob("*")
        if p.is_file()
    )
    lines += ["", "output files:"]
    lines += [f"  {p.relative_to(warehouse)} ({p.stat().st_size:,d} bytes)" for p in outputs] or [
        "  (none)"
    ]
    return "\n".join(lines)
