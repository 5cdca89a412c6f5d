from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from facesym_pipeline.lib.landmarker import default_workers
from facesym_pipeline.lib.model_file import resolve_model


class LandmarkerResource(dg.ConfigurableResource):
    """The MediaPipe face landmarker bundle and how many worker processes run it."""

    model_path: str | None = Field(
        default=None,
        description="face_landmarker.task; default: FACESYM_LANDMARKER_MODEL or the user cache",
    )
    workers: int = Field(default_factory=default_workers, description="Worker processes")

    def resolved_model(self) -> Path:
        return resolve_model(self.model_path)
