"""A plain-text summary of what the warehouse holds."""

from __future__ import annotations

from pathlib import Path

from facesym_pipeline.lib.paths import dataset_keys
from facesym_pipeline.lib.store.catalog import table_counts
from facesym_pipeline.lib.store.lake import Lake


def status_report(warehouse: Path, data_dir: Path | None = None) -> str:
    lake = Lake.in_warehouse(warehouse)
    lines = [f"warehouse: {warehouse}", f"lake: {lake.uri}", "", "lake tables (partitions):"]
    tables = lake.tables()
    if not tables:
        lines.append("  (empty: run `facesym run`)")
    for table in tables:
        parts = lake.partitions(table)
        lines.append(f"  {table:28s} {', '.join(parts) if parts else '(unpartitioned)'}")
    db = warehouse / "facesym.duckdb"
    counts = table_counts(db, lake)
    lines += ["", f"DuckDB catalog {db} (views, rows):"]
    lines += [f"  {name:28s} {rows:>10,d}" for name, rows in counts.items()] or ["  (none)"]
    lines += ["", "output files (per folder):"]
    lines += _output_folders(warehouse) or ["  (none)"]
    if data_dir is not None:
        _, left_out = dataset_keys(data_dir)
        if left_out:
            lines += ["", f"data folders left out (no valid or unique key): {', '.join(left_out)}"]
    return "\n".join(lines)


def _output_folders(warehouse: Path) -> list[str]:
    """Exports, reports and models by folder: a count and a size, not every plot."""
    sizes: dict[str, list[int]] = {}
    for sub in ("exports", "reports", "models"):
        for path in (warehouse / sub).rglob("*"):
            if path.is_file():
                rel = path.relative_to(warehouse)
                folder = "/".join(rel.parts[:2]) if len(rel.parts) > 2 else rel.parts[0]
                sizes.setdefault(folder, []).append(path.stat().st_size)
    return [
        f"  {folder:36s} {len(files):>4d} files {sum(files) / 1e6:>8.2f} MB"
        for folder, files in sorted(sizes.items())
    ]
