"""Per-video trend plots and the per-dataset HTML report, written under
`warehouse/reports/<dataset>/`, and the markdown that points a person at them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.render.markdown import inline_png
from facesym_pipeline.lib.temporal.html_report import render_dataset_report
from facesym_pipeline.lib.temporal.plots import plot_video_trends
from facesym_pipeline.lib.temporal.video_trends import VideoTrends


def video_names(trends: pl.DataFrame) -> dict[str, str]:
    """media_id -> the video's file name (relpath in its dataset), the media id without one."""
    if not trends.height:
        return {}
    if "relpath" not in trends.columns:
        return {m: m for m in trends["media_id"]}
    return {m: (name or m) for m, name in trends.select("media_id", "relpath").iter_rows()}


def write_trend_reports(
    dataset: str,
    series: pl.DataFrame,
    trends: pl.DataFrame,
    analyses: dict[str, VideoTrends],
    out_dir: Path,
) -> tuple[Path, dict[str, Path]]:
    """A PNG per video, titled and named after its file, and one self-contained HTML file
    with a gallery of all of them. Returns the HTML path and {media_id: PNG path}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob("trend_*.png"):
        stale.unlink()
    plots: dict[str, bytes] = {}
    paths: dict[str, Path] = {}
    names = video_names(trends)
    for media_id, analysis in analyses.items():
        name = names.get(media_id, media_id)
        png = plot_video_trends(series.filter(pl.col("media_id") == media_id), analysis, title=name)
        plots[media_id] = png
        path = out_dir / f"trend_{_safe(Path(name).stem)}_{media_id[:8]}.png"
        path.write_bytes(png)
        paths[media_id] = path
    html_path = out_dir / "temporal_report.html"
    html_path.write_text(render_dataset_report(dataset, trends, plots), encoding="utf-8")
    return html_path, paths


def trend_plots_markdown(
    trends: pl.DataFrame, plots: Mapping[str, Path], html_path: Path, inline: int = 6
) -> str:
    """Markdown for the asset's metadata: the first `inline` plots (by file name) shown
    under their file names, then every video's file name with its PNG, and the HTML report
    whose gallery holds every plot."""
    if not plots:
        return "(no videos)"
    names = video_names(trends)
    ordered = sorted(plots.items(), key=lambda item: (names.get(item[0], item[0]), item[0]))
    shown = [
        f"**{names.get(m, m)}**\n\n{inline_png(p, f'trends of {names.get(m, m)}')}"
        for m, p in ordered[:inline]
    ]
    listing = ["| video | plot |", "|---|---|"] + [
        f"| {_md_cell(names.get(m, m))} | `{p}` |" for m, p in ordered
    ]
    more = (
        f"{len(ordered) - inline} more are listed below (not inline). "
        if len(ordered) > inline
        else ""
    )
    return "\n\n".join(
        [
            *shown,
            f"{more}All {len(ordered)} plots, with a gallery titled by file name: `{html_path}`",
            "\n".join(listing),
        ]
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _safe(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stem)[:60]
