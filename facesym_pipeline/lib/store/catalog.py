"""The DuckDB catalog: views over the Parquet lake, written by exactly one step.

Analysts open the file read-only; identifiers are quoted and paths passed as literals
escaped by DuckDB's own quoting rules, never interpolated raw.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline.lib.store.object_store import S3Settings


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def httpfs_extension() -> Path:
    """The httpfs extension shipped as a Python package (`duckdb-extension-httpfs`, the same
    version as duckdb): loaded from its file, so no download is needed at run time."""
    import duckdb_extension_httpfs

    files = sorted(
        Path(duckdb_extension_httpfs.__file__).parent.glob(
            f"extensions/v{duckdb.__version__}/httpfs.duckdb_extension"
        )
    )
    if not files:
        raise RuntimeError(
            f"no httpfs extension for duckdb {duckdb.__version__}: install "
            f"duckdb-extension-httpfs=={duckdb.__version__}"
        )
    return files[0]


def object_store_setup(settings: S3Settings | None = None) -> list[str]:
    """The statements that let a DuckDB session read `s3://` (httpfs and a temporary
    secret from the environment). Secrets are not stored in the catalog file: each session
    that reads the lake runs these first (`facesym catalog-setup` prints them)."""
    settings = settings or S3Settings.from_env()
    options = ["TYPE s3", f"REGION {quote_literal(settings.region)}", "URL_STYLE 'path'"]
    if settings.access_key_id:
        options.append(f"KEY_ID {quote_literal(settings.access_key_id)}")
    if settings.secret_access_key:
        options.append(f"SECRET {quote_literal(settings.secret_access_key)}")
    if settings.endpoint:
        scheme, host = settings.endpoint
        options += [f"ENDPOINT {quote_literal(host)}", f"USE_SSL {str(scheme == 'https').lower()}"]
    return [
        f"LOAD {quote_literal(str(httpfs_extension()))}",
        f"CREATE OR REPLACE TEMPORARY SECRET facesym_lake ({', '.join(options)})",
    ]


def connect(db_path: Path, lake: Lake | None = None, read_only: bool = False):
    """A DuckDB connection to the catalog, able to read the lake wherever it is."""
    con = duckdb.connect(str(db_path), read_only=read_only)
    if lake is not None and not lake.store.local:
        for statement in object_store_setup():
            con.execute(statement)
    return con


def refresh_catalog(db_path: Path, lake: Lake) -> dict[str, int]:
    """(Re)create one view per lake table over all its partitions; return row counts."""
    db_path.parent.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    with connect(db_path, lake) as con:
        existing = {
            row[0]
            for row in con.execute(
                "select view_name from duckdb_views() where not internal"
            ).fetchall()
        }
        tables = lake.tables()
        for table in tables:
            pattern = lake.glob_uri(table)
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


def table_counts(db_path: Path, lake: Lake | None = None) -> dict[str, int]:
    """Row counts of every view, opening the catalog read-only (as an analyst would)."""
    if not db_path.is_file():
        return {}
    with connect(db_path, lake, read_only=True) as con:
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
