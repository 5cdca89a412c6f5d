"""The Parquet lake: `<root>/lake/<table>/dataset=<key>/part.parquet` per partition, and
`<root>/lake/<table>/all/part.parquet` for unpartitioned tables. Writes are atomic."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.paths import validate_partition_key

_TABLE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
UNPARTITIONED = "all"


def _check_table(table: str) -> str:
    if not _TABLE_RE.match(table):
        raise ValueError(f"invalid table name {table!r}")
    return table


class Lake:
    def __init__(self, warehouse: Path):
        self.warehouse = Path(warehouse)
        self.root = self.warehouse / "lake"

    def partition_dir(self, table: str, key: str | None) -> Path:
        folder = UNPARTITIONED if key is None else f"dataset={validate_partition_key(key)}"
        return self.root / _check_table(table) / folder

    def write(self, table: str, key: str | None, frame: pl.DataFrame) -> Path:
        """Replace the partition's data with `frame` (idempotent re-materialisation)."""
        folder = self.partition_dir(table, key)
        staging = folder.with_name(folder.name + ".staging")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        frame.write_parquet(staging / "part.parquet", compression="zstd", statistics=True)
        if folder.exists():
            old = folder.with_name(folder.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(folder, old)
            os.replace(staging, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(staging, folder)
        return folder / "part.parquet"

    def read(self, table: str, key: str | None) -> pl.DataFrame:
        path = self.partition_dir(table, key) / "part.parquet"
        if not path.is_file():
            raise FileNotFoundError(
                f"{table} has no data for {'the table' if key is None else 'dataset ' + key}; "
                "materialise it first"
            )
        return pl.read_parquet(path)

    def read_optional(self, table: str, key: str | None = None) -> pl.DataFrame | None:
        """The partition's table, or None when it was never written (a table that is
        optional for its reader, such as fitted ranges a fallback can replace)."""
        try:
            return self.read(table, key)
        except FileNotFoundError:
            return None

    def read_all(self, table: str) -> pl.DataFrame:
        """Every partition of a table (empty frame when there is none)."""
        files = self.files(table)
        if not files:
            return pl.DataFrame()
        return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")

    def files(self, table: str) -> list[Path]:
        folder = self.root / _check_table(table)
        return sorted(folder.glob("*/part.parquet")) if folder.is_dir() else []

    def tables(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.files(p.name))

    def partitions(self, table: str) -> list[str]:
        return [
            f.parent.name.removeprefix("dataset=")
            for f in self.files(table)
            if f.parent.name.startswith("dataset=")
        ]
