"""One self-contained HTML page per dataset: every video's trend label, risk level, reasons
and plot (PNG embedded as base64), under a research-only disclaimer."""

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


def render_dataset_report(
    dataset: str, trends: pl.DataFrame, plots: Mapping[str, bytes] | None = None
) -> str:
    """HTML text of the report. `trends` are `temporal_trends` rows; `plots` maps media_id to
    PNG bytes. Every value is escaped; nothing is loaded from outside the file."""
    plots = plots or {}
    esc = html.escape
    rows = []
    for r in trends.sort("media_id").iter_rows(named=True):
        colour = _RISK_COLOURS.get(str(r.get("risk_level")), "#7f8c8d")
        onset = r.get("onset_s")
        name = r.get("relpath") or r["media_id"]
        img = plots.get(r["media_id"])
        img_html = (
            f'<img alt="measures over time" src="data:image/png;base64,'
            f'{base64.b64encode(img).decode("ascii")}">'
            if img
            else ""
        )
        rows.append(
            f"<section><h2>{esc(str(name))}</h2>"
            f"<p><b>trend:</b> {esc(str(r.get('trend_label')))} &nbsp; "
            f'<b>risk:</b> <span class="risk" style="background:{colour}">'
            f"{esc(str(r.get('risk_level')))}</span> &nbsp; "
            f"<b>onset:</b> {esc(f'{onset:.1f} s') if onset is not None else '-'}</p>"
            f"<ul>{''.join(f'<li>{esc(x)}</li>' for x in str(r.get('reasons') or '').split('; ') if x)}</ul>"
            f"{img_html}</section>"
        )
    counts = trends.group_by("trend_label").len().sort("trend_label") if trends.height else None
    summary = (
        ", ".join(f"{esc(str(a))}: {b}" for a, b in counts.iter_rows())
        if counts is not None
        else "no videos"
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Temporal asymmetry trends - {esc(dataset)}</title>
<style>
body {{ font-family: sans-serif; max-width: 960px; margin: 2em auto; color: #222; }}
.disclaimer {{ border: 2px solid #c0392b; padding: .8em; background: #fdecea; }}
.risk {{ color: #fff; padding: 0 .4em; border-radius: 3px; }}
section {{ border-top: 1px solid #ccc; margin-top: 1.5em; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Temporal asymmetry trends: {esc(dataset)}</h1>
<p class="disclaimer">{esc(DISCLAIMER)}</p>
<p>{trends.height} video(s); {summary}.</p>
{"".join(rows)}
</body></html>
"""
