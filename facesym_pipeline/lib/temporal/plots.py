"""Per-video PNG: each region's summarising measure over time with its healthy range,
flagged spans, smile episodes and the dated onset of a change."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from facesym_pipeline.lib.temporal.config import REGIONS  # noqa: E402
from facesym_pipeline.lib.temporal.persistence import runs  # noqa: E402
from facesym_pipeline.lib.temporal.video_trends import VideoTrends


def plot_video_trends(
    series: pl.DataFrame, vt: VideoTrends, dpi: int = 90, title: str | None = None
) -> bytes:
    """PNG bytes: one panel per region (raw frames as dots, smoothed line, +-threshold band,
    flagged spans in red, smile episodes in grey, onset as a vertical line), titled by
    `title` (the video's file name; its media id when not given)."""
    fig = trend_figure(series, vt, title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return buf.getvalue()


def trend_figure(series: pl.DataFrame, vt: VideoTrends, title: str | None = None):
    """The matplotlib figure of `plot_video_trends` (the caller closes it)."""
    regions = [r for r in REGIONS if r in vt.regions and vt.regions[r].primary is not None]
    fig, axes = plt.subplots(
        max(len(regions), 1), 1, figsize=(8, 1.8 * max(len(regions), 1) + 0.6), sharex=True,
        squeeze=False,
    )  # fmt: skip
    t = series["t_s"].to_numpy().astype(float)
    dt = float(np.median(np.diff(t))) if t.size > 1 else 0.0
    smile = (
        series["smile_active"].to_numpy().astype(bool)
        if "smile_active" in series.columns
        else np.zeros(t.size, dtype=bool)
    )
    for ax, r in zip(axes[:, 0], regions, strict=False):
        m = vt.regions[r].primary
        raw = series[m.measure].cast(pl.Float64).to_numpy().astype(float)
        smooth = series[f"{m.measure}_smooth"].cast(pl.Float64).to_numpy().astype(float)
        for a, b in runs(smile):
            ax.axvspan(t[a], t[b - 1] + dt, color="0.9", lw=0)
        for a, b in m.persistence.spans:
            ax.axvspan(a, b, color="tab:red", alpha=0.18, lw=0)
        ax.axhspan(-m.threshold, m.threshold, color="tab:green", alpha=0.08, lw=0)
        for y in (-m.threshold, m.threshold):
            ax.axhline(y, color="tab:green", ls="--", lw=0.8)
        ax.axhline(0, color="0.5", lw=0.5)
        ax.plot(t, raw, ".", ms=3, color="0.55")
        ax.plot(t, smooth, "-", lw=1.4, color="tab:blue")
        if m.trend.onset_s is not None and m.trend.label in ("worsening", "improving"):
            ax.axvline(m.trend.onset_s, color="tab:orange", lw=1.5)
            ax.text(m.trend.onset_s, ax.get_ylim()[1], f" onset {m.trend.onset_s:.1f} s",
                    va="top", fontsize=7, color="tab:orange")  # fmt: skip
        ax.set_ylabel(f"{r}\n[{m.unit}]", fontsize=8)
        ax.set_title(f"{m.measure}: {vt.regions[r].label}", fontsize=8, loc="left")
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("time [s]", fontsize=8)
    name = title or vt.media_id[:16]
    fig.suptitle(f"{name}   trend: {vt.trend_label}   risk: {vt.risk_level}", fontsize=9)
    fig.tight_layout()
    return fig
