"""The resources every domain shares: where data and the warehouse are, and the MediaPipe
landmarker bundle with its worker count, bound under the keys the assets ask for; and the
executor every run uses, chosen by the deployment profile."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from facesym_pipeline.lib.face.landmarker import default_workers
from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model, resolve_model
from facesym_pipeline.lib.paths import (
    data_root,
    dataset_dir,
    lake_root,
    validate_partition_key,
    warehouse_root,
)
from facesym_pipeline.lib.profile import CELERY_BROKER_ENV, active_profile
from facesym_pipeline.lib.store.fingerprints import HashCache
from facesym_pipeline.lib.store.lake import Lake


class WarehouseResource(dg.ConfigurableResource):
    """Where datasets are read from and the lake and DuckDB catalog are written."""

    data_dir: str = Field(default_factory=lambda: str(data_root()), description="Dataset root")
    warehouse_dir: str = Field(
        default_factory=lambda: str(warehouse_root()), description="Lake, catalog and exports"
    )

    lake_uri: str | None = Field(
        default=None,
        description="Parquet lake, a folder or s3://bucket/prefix; default: FACESYM_LAKE_URI, "
        "else <warehouse_dir>/lake",
    )

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def lake(self) -> Lake:
        return Lake(self.lake_uri or lake_root(Path(self.warehouse_dir)))

    @property
    def catalog_path(self) -> Path:
        return Path(self.warehouse_dir) / "facesym.duckdb"

    @property
    def exports_dir(self) -> Path:
        return Path(self.warehouse_dir) / "exports"

    @property
    def models_dir(self) -> Path:
        return Path(self.warehouse_dir) / "models"

    def crops_dir(self, key: str) -> Path:
        """Derived face crops of a dataset (personal data: deletable, rebuildable)."""
        return Path(self.warehouse_dir) / "crops" / validate_partition_key(key)

    def reports_dir(self, key: str) -> Path:
        """Per-dataset report folder (plots, HTML); the key is validated by the lake."""
        return Path(self.warehouse_dir) / "reports" / validate_partition_key(key)

    def dataset_folder(self, key: str) -> Path:
        return dataset_dir(key, self.data_path)

    def hash_cache(self) -> HashCache:
        return HashCache(Path(self.warehouse_dir) / ".cache" / "file_hashes.json")


class LandmarkerResource(dg.ConfigurableResource):
    """The MediaPipe face landmarker bundle, the hand detector used for occlusion, and how
    many worker processes run them."""

    model_path: str | None = Field(
        default=None,
        description="face_landmarker.task; default: FACESYM_LANDMARKER_MODEL or the user cache",
    )
    workers: int = Field(default_factory=default_workers, description="Worker processes")
    detect_hands: bool = Field(
        default=True,
        description="Measure how much of each face a hand covers (hand_cover; about 25 ms "
        "per frame with a face). Off: hand_cover is null and no frame is judged occluded",
    )
    hand_model_path: str | None = Field(
        default=None,
        description="hand landmarker bundle; default: FACESYM_HAND_MODEL or the user cache",
    )

    def resolved_model(self) -> Path:
        return resolve_model(self.model_path)

    def resolved_hands(self) -> Path | bool:
        """The verified hand bundle, or False when occlusion is switched off."""
        return resolve_hand_model(self.hand_model_path) if self.detect_hands else False


def executor_for(profile: str) -> dg.ExecutorDefinition:
    """`local`: one process per run, not per step (a dataset's steps share one import of
    MediaPipe and the libraries, which is most of a small run's time). `distributed`: each
    step is a Celery task on a worker. `kubernetes`: each step is a pod."""
    if profile == "distributed":
        from dagster_celery import celery_executor

        broker = {"env": CELERY_BROKER_ENV}
        return celery_executor.configured({"broker": broker, "backend": broker}, name="celery")
    if profile == "kubernetes":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor
    return dg.in_process_executor


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={"warehouse": WarehouseResource(), "landmarker": LandmarkerResource()},
        executor=executor_for(active_profile()),
    )
