"""The validity report's figure: ranking AUC by injected size per renderer, and the
false-alarm rates of the risk levels, each with its interval (no face pixels)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

_ITEM = re.compile(r"^(?P<kind>\w+) (?P<size>[\d.]+) mm \((?P<renderer>.+)\)$")


def validity_plot(table: pl.DataFrame, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    ranking = table.filter(pl.col("section") == "ranking_auc")
    series: dict[str, list[tuple[float, float, float, float]]] = {}
    for item, value, low, high in ranking.select("item", "value", "ci_low", "ci_high").rows():
        m = _ITEM.match(item)
        if m and value is not None:
            label = f"{m['kind']} ({m['renderer']})"
            series.setdefault(label, []).append((float(m["size"]), value, low, high))
    for label, points in sorted(series.items()):
        points.sort()
        xs = [p[0] for p in points]
        left.plot(xs, [p[1] for p in points], marker="o", label=label)
        left.fill_between(xs, [p[2] for p in points], [p[3] for p in points], alpha=0.15)
    left.axhline(0.95, color="grey", linestyle=":", linewidth=1)
    left.set(xlabel="injected size (mm)", ylabel="paired AUC vs own original", ylim=(0.4, 1.01),
             title="Ranking on held-out people")  # fmt: skip
    if series:
        left.legend(fontsize=7)
    alarms = table.filter(pl.col("section") == "false_alarm_rate")
    names = alarms["item"].to_list()
    values = alarms["value"].fill_null(0).to_list()
    errs = [
        [v - (lo if lo is not None else v) for v, lo in zip(values, alarms["ci_low"], strict=True)],
        [
            (hi if hi is not None else v) - v
            for v, hi in zip(values, alarms["ci_high"], strict=True)
        ],
    ]
    right.bar(names, values, yerr=errs, capsize=4, color=["#c0392b", "#e67e22"][: len(names)])
    for limit, colour in ((0.05, "#c0392b"), (0.15, "#e67e22")):
        right.axhline(limit, color=colour, linestyle=":", linewidth=1)
    right.set(
        ylabel="share of held-out healthy media", title="False alarms by level", ylim=(0, 0.5)
    )
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path
