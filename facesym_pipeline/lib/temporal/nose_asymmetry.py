"""Detector for the nose (tip and alae; the alae follow the mouth in a lower-face palsy)."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.region import RegionResult, analyze_region

REGION = "nose"
EXPRESSION: str | None = None


def detect(
    series: pl.DataFrame,
    thresholds: dict[str, float] | None = None,
    config: TemporalConfig | None = None,
) -> RegionResult:
    """Persistence, trend and (where an expression moves the region) range of motion of the
    nose measures in one video's `temporal_series`."""
    return analyze_region(series, REGION, thresholds, config, EXPRESSION)
