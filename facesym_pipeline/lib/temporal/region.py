"""Shared detector for one facial region: for each of its measures, persistence beyond the
healthy threshold and the trend; the region is summarised by its most telling measure."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from facesym_pipeline.lib.temporal.config import (
    REGION_EXPRESSION,
    REGION_MEASURES,
    TemporalConfig,
    measure_unit,
)
from facesym_pipeline.lib.temporal.expression import rom_summary
from facesym_pipeline.lib.temporal.persistence import Persistence, persistence
from facesym_pipeline.lib.temporal.series import estimate_fps
from facesym_pipeline.lib.temporal.thresholds import DEFAULT_THRESHOLDS
from facesym_pipeline.lib.temporal.trend import Trend, measure_trend


@dataclass(frozen=True)
class MeasureResult:
    """Persistence and trend of one smoothed measure."""

    measure: str
    unit: str
    threshold: float
    persistence: Persistence
    trend: Trend


@dataclass(frozen=True)
class RegionResult:
    """A region's measures, the one it is summarised by and an optional range-of-motion
    summary of the expression that moves it."""

    region: str
    measures: list[MeasureResult]
    primary: MeasureResult | None
    rom: dict[str, object] = field(default_factory=dict)

    @property
    def flagged(self) -> bool:
        return any(m.persistence.flagged for m in self.measures)

    @property
    def label(self) -> str:
        labels = {m.trend.label for m in self.measures}
        for lab in ("worsening", "improving", "stable"):
            if lab in labels:
                return lab
        return "insufficient_data"


def series_fps(series: pl.DataFrame) -> float:
    """Frame rate of a uniform `temporal_series` of one video."""
    return estimate_fps(series["t_s"].to_numpy())


def analyze_measure(
    series: pl.DataFrame, measure: str, threshold: float, fps: float, config: TemporalConfig
) -> MeasureResult:
    """Persistence and trend of `<measure>_smooth` in one video's series."""
    t = series["t_s"].to_numpy().astype(float)
    v = series[f"{measure}_smooth"].cast(pl.Float64).to_numpy().astype(float)
    pers = persistence(t, v, threshold, fps, config.min_duration_s, config.persistence_window_s)
    return MeasureResult(
        measure, measure_unit(measure), threshold, pers, measure_trend(t, v, fps, config)
    )


def _rank(m: MeasureResult) -> tuple:
    return (m.trend.label == "worsening", m.persistence.flagged, m.persistence.time_beyond_s)


def analyze_region(
    series: pl.DataFrame,
    region: str,
    thresholds: dict[str, float] | None = None,
    config: TemporalConfig | None = None,
) -> RegionResult:
    """Detector for `region` on one video's `temporal_series`: persistence and trend of each
    of its measures, and the range of motion of its expression (`REGION_EXPRESSION`). The
    primary measure is the worsening one, else the flagged one, else the one longest beyond
    threshold, else the first listed in `REGION_MEASURES`."""
    cfg = config or TemporalConfig()
    limits = DEFAULT_THRESHOLDS | (thresholds or {})
    fps = series_fps(series)
    results = [
        analyze_measure(series, m, limits[m], fps, cfg)
        for m in REGION_MEASURES[region]
        if f"{m}_smooth" in series.columns
        and np.isfinite(series[f"{m}_smooth"].cast(pl.Float64).to_numpy().astype(float)).any()
    ]
    primary = max(results, key=_rank) if results else None
    if primary is not None and not any(_rank(primary)):
        primary = results[0]
    expression = REGION_EXPRESSION[region]
    rom = rom_summary(series, expression) if expression else {}
    return RegionResult(region, results, primary, rom)
