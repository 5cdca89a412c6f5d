"""The DuckDB catalog: views over the Parquet lake, written by exactly one step.

Analysts open the file read-only; identifiers are quoted and paths passed as literals
escaped by DuckDB's own quoting rules, never interpolated raw.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from facesym_pipeline.lib.store.lake import Lake


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def refresh_catalog(db_path: Path, lake: Lake) -> dict[str, int]:
    """(Re)create one view per lake table over all its partitions; return row counts."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with duckdb.connect(str(db_path)) as con:
        existing = {
            row[0]
            for row in con.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        }
        tables = lake.tables()
        for table in tables:
            pattern = str((lake.root / table).resolve() / "*" / "part.parquet")
            con.execute(
                f"create or replace view {quote_identifier(table)} as "  # noqa: S608
                f"select * from read_parquet({quote_literal(pattern)}, union_by_name = true)"
            )
            counts[table] = con.execute(
                f"select count(*) from {quote_identifier(table)}"  # noqa: S608
            ).fetchone()[0]
        for stale in existing - set(tables):
            con.execute(f"drop view if exists {quote_identifier(stale)}")
    return counts


def table_counts(db_path: Path) -> dict[str, int]:
    """Row counts of every view, opening the catalog read-only (as an analyst would)."""
    if not db_path.is_file():
        return {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        names = [
            r[0]
            for r in con.execute(
                "select view_name from duckdb_views() where not internal order by 1"
            ).fetchall()
        ]
        return {
            n: con.execute(f"select count(*) from {quote_identifier(n)}").fetchone()[0]  # noqa: S608
            for n in names
        }
