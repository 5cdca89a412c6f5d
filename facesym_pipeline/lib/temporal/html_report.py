"""One self-contained HTML page per dataset: an index of the videos by file name and a
gallery of every video's plot (PNG embedded as base64) with its trend label, risk level and
reasons, under a research-only disclaimer."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping

import polars as pl

DISCLAIMER = (
    "Research use only. These are automatically computed facial-asymmetry signals, not a "
    "diagnosis. They can be wrong (lighting, pose, expression, landmark errors) and must not "
    "be used to decide on care. Suspected stroke is a medical emergency: call the local "
    "emergency number."
)
_RISK_COLOURS = {"high": "#c0392b", "moderate": "#e67e22", "low": "#f1c40f", "none": "#27ae60",
                 "unknown": "#7f8c8d"}  # fmt: skip


def _report_order(trends: pl.DataFrame) -> pl.DataFrame:
    """Videos by file name (the media id where a row has none)."""
    if not trends.height:
        return trends
    name = pl.col("relpath") if "relpath" in trends.columns else pl.lit(None, pl.String)
    return trends.with_columns(_name=pl.coalesce(name, pl.col("media_id"))).sort(
        "_name", "media_id"
    )


def render_dataset_report(
    dataset: str, trends: pl.DataFrame, plots: Mapping[str, bytes] | None = None
) -> str:
    """HTML text of the report. `trends` are `temporal_trends` rows; `plots` maps media_id to
    PNG bytes. An index of every video by file name links to a gallery holding every
    video's plot, captioned by its file name, with its trend, risk, onset and reasons.
    Every value is escaped; nothing is loaded from outside the file."""
    plots = plots or {}
    esc = html.escape
    index_rows, sections = [], []
    for n, r in enumerate(_report_order(trends).iter_rows(named=True), start=1):
        colour = _RISK_COLOURS.get(str(r.get("risk_level")), "#7f8c8d")
        onset = r.get("onset_s")
        onset_text = esc(f"{onset:.1f} s") if onset is not None else "-"
        name = esc(str(r.get("relpath") or r["media_id"]))
        risk = (
            f'<span class="risk" style="background:{colour}">{esc(str(r.get("risk_level")))}</span>'
        )
        img = plots.get(r["media_id"])
        figure = (
            f'<figure><img alt="trends of {name}" src="data:image/png;base64,'
            f'{base64.b64encode(img).decode("ascii")}"><figcaption>{name}</figcaption></figure>'
            if img
            else "<p>(no plot)</p>"
        )
        reasons = "".join(
            f"<li>{esc(x)}</li>" for x in str(r.get("reasons") or "").split("; ") if x
        )
        index_rows.append(
            f'<tr><td><a href="#video-{n}">{name}</a></td>'
            f"<td>{esc(str(r.get('trend_label')))}</td><td>{risk}</td><td>{onset_text}</td></tr>"
        )
        sections.append(
            f'<section id="video-{n}" class="video"><h3>{name}</h3>'
            f"<p><b>trend:</b> {esc(str(r.get('trend_label')))} &nbsp; <b>risk:</b> {risk}"
            f" &nbsp; <b>onset:</b> {onset_text}</p>"
            f"<ul>{reasons}</ul>{figure}</section>"
        )
    counts = trends.group_by("trend_label").len().sort("trend_label") if trends.height else None
    summary = (
        ", ".join(f"{esc(str(a))}: {b}" for a, b in counts.iter_rows())
        if counts is not None
        else "no videos"
    )
    index = (
        '<table class="index"><tr><th>file</th><th>trend</th><th>risk</th><th>onset</th></tr>'
        + "".join(index_rows)
        + "</table>"
        if index_rows
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Temporal asymmetry trends - {esc(dataset)}</title>
<style>
body {{ font-family: sans-serif; max-width: 1400px; margin: 2em auto; padding: 0 1em; color: #222; }}
.disclaimer {{ border: 2px solid #c0392b; padding: .8em; background: #fdecea; }}
.risk {{ color: #fff; padding: 0 .4em; border-radius: 3px; }}
table.index {{ border-collapse: collapse; }}
table.index td, table.index th {{ padding: .2em .8em; border-bottom: 1px solid #ddd; text-align: left; }}
.gallery {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 1.2em; }}
section.video {{ border-top: 1px solid #ccc; }}
section.video h3 {{ word-break: break-all; }}
figure {{ margin: 0; }}
figcaption {{ font-size: .85em; color: #555; word-break: break-all; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Temporal asymmetry trends: {esc(dataset)}</h1>
<p class="disclaimer">{esc(DISCLAIMER)}</p>
<p>{trends.height} video(s); {summary}.</p>
{index}
<h2>Gallery: every video's plot</h2>
<div class="gallery">
{"".join(sections)}
</div>
</body></html>
"""
