"""Detector for the mouth corners (lower face, the region a central facial palsy weakens)."""

from __future__ import annotations

import polars as pl

from facesym_pipeline.lib.temporal.config import TemporalConfig
from facesym_pipeline.lib.temporal.region import RegionResult, analyze_region

REGION = "mouth"
EXPRESSION: str | None = "smile"


def detect(
    series: pl.DataFrame,
    thresholds: dict[str, float] | None = None,
    config: TemporalConfig | None = None,
) -> RegionResult:
    """Persistence, trend and (where an expression moves the region) range of motion of the
    mouth measures in one video's `temporal_series`."""
    return analyze_region(series, REGION, thresholds, config, EXPRESSION)
