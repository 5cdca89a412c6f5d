"""Detector for the brows (upper face; largely spared in a stroke, so symmetry here supports a central pattern)."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.region import RegionResult, analyze_region

REGION = "brows"
EXPRESSION: str | None = None


def detect(
    series: pl.DataFrame,
    thresholds: dict[str, float] | None = None,
    config: TemporalConfig | None = None,
) -> RegionResult:
    """Persistence, trend and (where an expression moves the region) range of motion of the
    brows measures in one video's `temporal_series`."""
    return analyze_region(series, REGION, thresholds, config, EXPRESSION)
