"""Per-video `temporal_trends` rows: each region's persistence and trend, an overall trend
label, a risk level and the reasons in words. Research signals, not a diagnosis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from facesym_pipeline.lib.temporal.config import REGIONS, TemporalConfig
from facesym_pipeline.lib.temporal.region import MeasureResult, RegionResult, analyze_region

RISK_LEVELS = ("unknown", "none", "low", "moderate", "high")

# measure -> (words, what a negative value means, what a positive value means); diff = L - R
_WORDS: dict[str, tuple[str, str, str]] = {
    "mouth_corner_height_diff_mm": ("mouth-corner asymmetry", "left corner lower", "right corner lower"),
    "mouth_corner_midline_diff_mm": ("mouth-corner midline asymmetry", "left corner nearer the midline", "right corner nearer the midline"),
    "eye_opening_diff_mm": ("eye-opening asymmetry", "left eye narrower", "right eye narrower"),
    "mrd1_diff_mm": ("upper-lid (MRD1) asymmetry", "left lid lower", "right lid lower"),
    "nose_tip_midline_mm": ("nose-tip deviation", "tip toward the subject's right", "tip toward the subject's left"),
    "alar_height_diff_mm": ("alar-base asymmetry", "left ala lower", "right ala lower"),
    "nasal_bridge_deviation_deg": ("nasal-bridge deviation", "bridge toward the subject's right", "bridge toward the subject's left"),
    "brow_height_diff_mm": ("brow-height asymmetry", "left brow lower", "right brow lower"),
}  # fmt: skip


@dataclass(frozen=True)
class VideoTrends:
    """Everything the trend row, the plot and the HTML report need for one video."""

    media_id: str
    duration_s: float
    observed_s: float
    regions: dict[str, RegionResult]
    trend_label: str
    risk_level: str
    onset_s: float | None
    forehead_sparing: bool | None
    reasons: list[str]


def _fmt(x: float, unit: str) -> str:
    return f"{x:.1f} {unit}"


def _side_words(m: MeasureResult) -> str:
    words = _WORDS.get(m.measure)
    if words is None or m.trend.sign == 0:
        return ""
    return words[1] if m.trend.sign < 0 else words[2]


def describe_measure(m: MeasureResult, duration_s: float) -> str | None:
    """A reason in words for one measure, or None when it shows nothing."""
    words = _WORDS.get(m.measure, (m.measure, "", ""))[0]
    unit = m.unit
    parts: list[str] = []
    if m.persistence.flagged:
        side = _side_words(m)
        parts.append(
            f"{words}{f' ({side})' if side else ''} beyond healthy range "
            f"(|x| > {_fmt(m.threshold, unit)}) for {m.persistence.time_beyond_s:.1f} s "
            f"of {duration_s:.1f} s"
        )
    tr = m.trend
    if tr.label in ("worsening", "improving") and tr.slope is not None:
        since = f" since {tr.onset_s:.1f} s" if tr.onset_s is not None else ""
        ci = (
            f" (CI {abs(tr.slope_lo):.1f}-{abs(tr.slope_hi):.1f})"
            if tr.slope_lo is not None and tr.slope_lo * tr.slope_hi > 0
            else ""
        )
        rate = f"{abs(tr.slope):.1f} {unit}/s{ci}"
        if not parts:
            side = _side_words(m)
            parts.append(f"{words}{f' ({side})' if side else ''}")
        parts.append(f"{tr.label} {rate}{since}")
    elif m.persistence.flagged:
        parts.append("stable")
    return ", ".join(parts) if parts else None


def analyze_video(
    series: pl.DataFrame,
    thresholds: dict[str, float] | None = None,
    config: TemporalConfig | None = None,
) -> VideoTrends:
    """Run every region detector on one video's `temporal_series` and summarise."""
    cfg = config or TemporalConfig()
    media_id = str(series["media_id"][0]) if "media_id" in series.columns else ""
    t = series["t_s"].to_numpy().astype(float)
    dt = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    duration = float(t[-1] - t[0] + dt) if t.size else 0.0
    observed = float(series["observed"].sum() * dt) if "observed" in series.columns else duration
    regions = {r: analyze_region(series, r, thresholds, cfg) for r in REGIONS} if t.size > 1 else {}

    labels = {r: reg.label for r, reg in regions.items() if reg.primary is not None}
    mouth = regions.get("mouth")
    if (
        not labels
        or observed < cfg.min_observed_s
        or labels.get("mouth", "insufficient_data") == "insufficient_data"
    ):
        return VideoTrends(media_id, duration, observed, regions, "insufficient_data", "unknown",
                           None, None, [f"only {observed:.1f} s of usable frames"])  # fmt: skip
    worsening = [r for r, lab in labels.items() if lab == "worsening"]
    improving = [r for r, lab in labels.items() if lab == "improving"]
    trend_label = "worsening" if worsening else "improving" if improving else "stable"
    onsets = [
        m.trend.onset_s
        for r in worsening
        for m in regions[r].measures
        if m.trend.label == "worsening" and m.trend.onset_s is not None
    ]
    onset = min(onsets) if onsets else None
    if "mouth" in worsening:
        mouth_onsets = [m.trend.onset_s for m in mouth.measures if m.trend.label == "worsening"]
        onset = mouth_onsets[0] if mouth_onsets and mouth_onsets[0] is not None else onset

    brows = regions.get("brows")
    lower_flagged = mouth.flagged or "mouth" in worsening
    forehead_sparing = (
        bool(lower_flagged and not brows.flagged) if brows and brows.primary else None
    )
    reasons = []
    for r in REGIONS:
        reg = regions.get(r)
        if reg is None:
            continue
        for m in reg.measures:
            text = describe_measure(m, duration)
            if text:
                reasons.append(text)
                break  # one reason per region: its most telling measure comes first
    rom = mouth.rom if mouth else {}
    weak_smile = rom.get("rom_ratio") is not None and rom["rom_ratio"] < cfg.min_rom_ratio
    if weak_smile:
        reasons.append(
            f"{rom['weaker_side']} mouth corner moves less on smiling "
            f"(weaker/stronger {rom['rom_ratio']:.2f})"
        )
    if forehead_sparing:
        reasons.append("forehead spared (brow asymmetry within healthy range)")

    mouth_fraction = mouth.primary.persistence.fraction_beyond or 0.0
    any_flagged = any(reg.flagged for reg in regions.values())
    if mouth.flagged and ("mouth" in worsening or mouth_fraction >= 0.5) and forehead_sparing:
        risk = "high"
    elif lower_flagged or worsening or any_flagged or weak_smile:
        risk = "moderate"
    elif any(
        m.persistence.longest_run_s >= cfg.min_duration_s / 2
        for reg in regions.values()
        for m in reg.measures
    ):
        risk = "low"
        reasons.append("brief asymmetry beyond healthy range, not persistent")
    else:
        risk = "none"
    if not reasons:
        reasons.append(f"no region beyond its healthy range for >= {cfg.min_duration_s:.1f} s")
    return VideoTrends(media_id, duration, observed, regions, trend_label, risk, onset,
                       forehead_sparing, reasons)  # fmt: skip


def trends_row(vt: VideoTrends) -> dict[str, object]:
    """Flat `temporal_trends` row of one video."""
    row: dict[str, object] = {
        "media_id": vt.media_id,
        "duration_s": round(vt.duration_s, 3),
        "observed_s": round(vt.observed_s, 3),
        "trend_label": vt.trend_label,
        "risk_level": vt.risk_level,
        "onset_s": vt.onset_s,
        "forehead_sparing": vt.forehead_sparing,
        "reasons": "; ".join(vt.reasons),
    }
    for r in REGIONS:
        reg = vt.regions.get(r)
        m = reg.primary if reg else None
        p, tr = (m.persistence, m.trend) if m else (None, None)
        row |= {
            f"{r}_measure": m.measure if m else None,
            f"{r}_unit": m.unit if m else None,
            f"{r}_threshold": m.threshold if m else None,
            f"{r}_flagged": reg.flagged if reg and m else None,
            f"{r}_fraction_beyond": p.fraction_beyond if p else None,
            f"{r}_time_beyond_s": p.time_beyond_s if p else None,
            f"{r}_longest_run_s": p.longest_run_s if p else None,
            f"{r}_first_flag_s": p.first_flag_s if p else None,
            f"{r}_trend": reg.label if reg and m else None,
            f"{r}_slope_per_s": tr.slope if tr else None,
            f"{r}_slope_lo": tr.slope_lo if tr else None,
            f"{r}_slope_hi": tr.slope_hi if tr else None,
            f"{r}_onset_s": tr.onset_s if tr else None,
            f"{r}_baseline_level": tr.baseline_level if tr else None,
            f"{r}_final_level": tr.final_level if tr else None,
        }
    for r in ("mouth", "eyes"):
        rom = vt.regions[r].rom if r in vt.regions else {}
        row[f"{r}_rom_ratio"] = rom.get("rom_ratio")
        row[f"{r}_weaker_side"] = rom.get("weaker_side")
    return row


def build_temporal_trends(
    series: pl.DataFrame,
    thresholds: dict[str, float] | None = None,
    config: TemporalConfig | None = None,
) -> tuple[pl.DataFrame, dict[str, VideoTrends]]:
    """`temporal_trends` rows (one per video) from a `temporal_series` table, and the
    per-video analyses keyed by media_id (for plots and reports)."""
    analyses: dict[str, VideoTrends] = {}
    for (media_id,), video in series.sort("t_s").group_by(["media_id"], maintain_order=True):
        analyses[str(media_id)] = analyze_video(video, thresholds, config)
    rows = [trends_row(vt) for vt in analyses.values()]
    if not rows:
        return pl.DataFrame(schema={"media_id": pl.Utf8, "trend_label": pl.Utf8}), analyses
    return pl.DataFrame(rows, infer_schema_length=None), analyses
