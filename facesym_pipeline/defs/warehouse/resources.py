from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from facesym_pipeline.lib.fingerprint import HashCache
from facesym_pipeline.lib.lake import Lake
from facesym_pipeline.lib.paths import data_root, dataset_dir, warehouse_root


class WarehouseResource(dg.ConfigurableResource):
    """Where datasets are read from and the lake and DuckDB catalog are written."""

    data_dir: str = Field(default_factory=lambda: str(data_root()), description="Dataset root")
    warehouse_dir: str = Field(
        default_factory=lambda: str(warehouse_root()), description="Lake, catalog and exports"
    )

    @property
    def lake(self) -> Lake:
        return Lake(Path(self.warehouse_dir))

    @property
    def catalog_path(self) -> Path:
        return Path(self.warehouse_dir) / "facesym.duckdb"

    @property
    def exports_dir(self) -> Path:
        return Path(self.warehouse_dir) / "exports"

    def dataset_folder(self, key: str) -> Path:
        return dataset_dir(key, Path(self.data_dir))

    def hash_cache(self) -> HashCache:
        return HashCache(Path(self.warehouse_dir) / ".cache" / "file_hashes.json")
