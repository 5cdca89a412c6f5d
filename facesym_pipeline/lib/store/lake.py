"""The Parquet lake: `<root>/<table>/dataset=<key>/part.parquet` per partition and
`<root>/<table>/all/part.parquet` for unpartitioned tables.

The root is a local folder or an `s3://` URI (see object_store); nothing else in the code
knows which. Each write is one object, replaced atomically.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.paths import lake_root, validate_partition_key
from facesym_pipeline.lib.store.object_store import ObjectStore

_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
UNPARTITIONED = "all"
PART_FILE = "part.parquet"


def _check_table(table: str) -> str:
    if not _TABLE_RE.match(table):
        raise ValueError(f"invalid table name {table!r}")
    return table


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=True)
    return buffer.getvalue()


class Lake:
    def __init__(self, root: str | Path):
        self.store = ObjectStore(root)

    @classmethod
    def in_warehouse(cls, warehouse: str | Path) -> Lake:
        """The lake a warehouse uses: FACESYM_LAKE_URI, else its `lake` folder."""
        return cls(lake_root(Path(warehouse)))

    @property
    def uri(self) -> str:
        return self.store.uri

    def _object(self, table: str, key: str | None) -> str:
        folder = UNPARTITIONED if key is None else f"dataset={validate_partition_key(key)}"
        return f"{_check_table(table)}/{folder}/{PART_FILE}"

    def write(self, table: str, key: str | None, frame: pl.DataFrame) -> str:
        """Replace the partition's data with `frame` (idempotent re-materialisation);
        returns the object's address."""
        return self.store.put(self._object(table, key), parquet_bytes(frame))

    def read(self, table: str, key: str | None) -> pl.DataFrame:
        try:
            data = self.store.get(self._object(table, key))
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{table} has no data for {'the table' if key is None else 'dataset ' + key}; "
                "materialise it first"
            ) from None
        return pl.read_parquet(io.BytesIO(data))

    def read_optional(self, table: str, key: str | None = None) -> pl.DataFrame | None:
        """The partition's table, or None when it was never written (a table that is
        optional for its reader, such as fitted ranges a fallback can replace)."""
        try:
            return self.read(table, key)
        except FileNotFoundError:
            return None

    def read_all(self, table: str) -> pl.DataFrame:
        """Every partition of a table (empty frame when there is none)."""
        parts = [pl.read_parquet(io.BytesIO(self.store.get(name))) for name in self._parts(table)]
        return pl.concat(parts, how="diagonal_relaxed") if parts else pl.DataFrame()

    def _parts(self, table: str) -> list[str]:
        return [
            name
            for name in self.store.list(_check_table(table))
            if name.count("/") == 2 and name.endswith("/" + PART_FILE)
        ]

    def glob_uri(self, table: str) -> str:
        """Every partition's file of a table, as a glob DuckDB's read_parquet accepts."""
        return self.store.uri_of(f"{_check_table(table)}/*/{PART_FILE}")

    def tables(self) -> list[str]:
        names = {name.split("/", 1)[0] for name in self.store.list("")}
        return sorted(t for t in names if _TABLE_RE.match(t) and self._parts(t))

    def partitions(self, table: str) -> list[str]:
        return [
            folder.removeprefix("dataset=")
            for folder in (name.split("/")[1] for name in self._parts(table))
            if folder.startswith("dataset=")
        ]
