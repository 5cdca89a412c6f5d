"""Settings of the temporal analysis, all durations in seconds so that results do not depend
on the frame rate a video was sampled at."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Region -> symmetry measures, the first being the one a region is summarised by when no
# other measure shows more evidence.
REGION_MEASURES: dict[str, tuple[str, ...]] = {
    "mouth": ("mouth_corner_height_diff_mm", "mouth_corner_midline_diff_mm"),
    "eyes": ("eye_opening_diff_mm", "mrd1_diff_mm"),
    "nose": ("nose_tip_midline_mm", "alar_height_diff_mm", "nasal_bridge_deviation_deg"),
    "brows": ("brow_height_diff_mm",),
}
REGIONS: tuple[str, ...] = tuple(REGION_MEASURES)
# The expression whose range of motion is compared between sides in each region: a smile
# moves the mouth corners (the lower face a central palsy weakens), eye closure the lids
# (spared in a central palsy, not in a peripheral one); nose and brows have none.
REGION_EXPRESSION: dict[str, str | None] = {
    "mouth": "smile",
    "eyes": "eye_closure",
    "nose": None,
    "brows": None,
}
MEASURES: tuple[str, ...] = tuple(m for ms in REGION_MEASURES.values() for m in ms)


def measure_unit(measure: str) -> str:
    """Unit suffix of a measure name ("mm" or "deg")."""
    return measure.rsplit("_", 1)[-1]


@dataclass(frozen=True)
class TemporalConfig:
    """Tunable settings; every window and duration is in seconds."""

    # Uniform time base: missing frames are interpolated only when the observed frames on
    # either side are at most this far apart; longer quality gaps stay gaps.
    max_gap_s: float = 0.6
    # Hampel filter (outlier frames -> local median) and the median smoother after it.
    hampel_window_s: float = 1.0
    hampel_n_sigma: float = 3.0
    hampel_min_scale: float = 0.3  # mm; MAD of a very steady series must not flag jitter
    smooth_window_s: float = 0.8
    # Expressions: a side counts as active above this blendshape score; an expression with
    # the weaker side at least this fraction of the stronger one is "both sides move".
    activation_gate: float = 0.25
    min_rom_ratio: float = 0.5
    expression_margin_s: float = 0.2
    # Persistence: flagged when beyond threshold for >= min_duration_s within any window.
    min_duration_s: float = 2.0
    persistence_window_s: float = 3.0
    # Change detection and trend.
    baseline_s: float = 2.0
    cusum_allowance: float = 0.5  # measure units; drift below this is not accumulated
    cusum_alarm: float = 1.0  # measure units x seconds
    min_change: float = 1.0  # sustained change (measure units) needed for a trend label
    final_window_s: float = 2.0  # the change must still hold over the last seconds
    trend_alpha: float = 0.90  # confidence level of the Theil-Sen slope interval
    min_observed_s: float = 3.0  # less observed time than this -> insufficient_data

    def to_dict(self) -> dict[str, float]:
        return asdict(self)
