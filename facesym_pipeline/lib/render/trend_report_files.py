"""Per-video trend plots and the per-dataset HTML report, written under
`warehouse/reports/<dataset>/`."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from facesym_pipeline.lib.temporal.html_report import render_dataset_report
from facesym_pipeline.lib.temporal.plots import plot_video_trends
from facesym_pipeline.lib.temporal.video_trends import VideoTrends


def write_trend_reports(
    dataset: str,
    series: pl.DataFrame,
    trends: pl.DataFrame,
    analyses: dict[str, VideoTrends],
    out_dir: Path,
) -> tuple[Path, dict[str, Path]]:
    """PNG per video (named after its file) and one self-contained HTML file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("trend_*.png"):
        stale.unlink()
    plots: dict[str, bytes] = {}
    paths: dict[str, Path] = {}
    names = (
        dict(zip(trends["media_id"], trends["relpath"], strict=True))
        if "relpath" in trends.columns
        else {}
    )
    for media_id, analysis in analyses.items():
        png = plot_video_trends(series.filter(pl.col("media_id") == media_id), analysis)
        plots[media_id] = png
        stem = Path(names.get(media_id) or media_id).stem
        path = out_dir / f"trend_{_safe(stem)}_{media_id[:8]}.png"
        path.write_bytes(png)
        paths[media_id] = path
    html_path = out_dir / "temporal_report.html"
    html_path.write_text(render_dataset_report(dataset, trends, plots), encoding="utf-8")
    return html_path, paths


def _safe(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60]
