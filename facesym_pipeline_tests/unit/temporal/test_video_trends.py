"""Ground-truth behaviour of the per-video trend rows on synthetic demo-like videos, the
frame-rate independence of the result, and the PNG / HTML reports."""

import base64
import io
import re

import matplotlib.pyplot as plt
import polars as pl
import pytest
from PIL import Image

from facesym_pipeline.demo.synthetic_series import SCENARIOS, scenario_truth, synthetic_video
from facesym_pipeline.lib.render.trend_report_files import (
    trend_plots_markdown,
    write_trend_reports,
)
from facesym_pipeline.lib.temporal.html_report import DISCLAIMER, render_dataset_report
from facesym_pipeline.lib.temporal.plots import plot_video_trends, trend_figure
from facesym_pipeline.lib.temporal.series import build_temporal_series
from facesym_pipeline.lib.temporal.video_trends import build_temporal_trends

SEEDS = range(4)


@pytest.fixture(scope="module")
def runs():
    out = {}
    for fps in (5, 10):
        frames = pl.concat(
            [
                synthetic_video(
                    sc, fps=fps, seed=s, media_id=f"{sc}-{s}", gaps=((6.0, 7.5),) if s == 3 else ()
                )  # fmt: skip
                for sc in SCENARIOS
                for s in SEEDS
            ],
            how="diagonal_relaxed",
        )
        series = build_temporal_series(frames)
        trends, analyses = build_temporal_trends(series)
        out[fps] = (series, trends, analyses)
    return out


@pytest.mark.parametrize("fps", [5, 10])
def test_ground_truth(runs, fps):
    _, trends, _ = runs[fps]
    assert trends.height == len(SCENARIOS) * len(SEEDS)
    for row in trends.iter_rows(named=True):
        scenario = row["media_id"].rsplit("-", 1)[0]
        truth = scenario_truth(scenario)
        assert row["trend_label"] == truth["label"], row["media_id"]
        if truth["onset_s"] is not None:
            assert abs(row["onset_s"] - truth["onset_s"]) <= 1.0, row["media_id"]
            assert row["mouth_slope_lo"] > 0
            assert row["risk_level"] in ("moderate", "high")
            assert (
                "worsening" in row["reasons"] and f"{truth['side']} corner lower" in row["reasons"]
            )
        if scenario == "droop_constant_left":
            assert row["mouth_flagged"] and row["mouth_fraction_beyond"] > 0.9
            assert row["onset_s"] is None and row["risk_level"] == "high"
            assert "stable" in row["reasons"] and row["forehead_sparing"]
        if scenario == "symmetric_control":
            assert not any(row[f"{r}_flagged"] for r in ("mouth", "eyes", "nose", "brows"))
            assert row["risk_level"] in ("none", "low")
        if scenario == "droop_growing_left":
            assert row["mouth_flagged"]
        for r in ("eyes", "nose", "brows"):
            assert row[f"{r}_trend"] == "stable", (row["media_id"], r)


def test_same_result_at_5_and_10_fps(runs):
    a = runs[5][1].sort("media_id")
    b = runs[10][1].sort("media_id")
    assert a["trend_label"].to_list() == b["trend_label"].to_list()
    assert a["mouth_flagged"].to_list() == b["mouth_flagged"].to_list() or (
        # the weakest ramp ends close to the persistence limit; allow one borderline video
        sum(x != y for x, y in zip(a["mouth_flagged"], b["mouth_flagged"], strict=True)) <= 1
    )
    # different noise draws at each rate; each is within 1 s of the truth (test above)
    both = a.join(b, on="media_id").filter(pl.col("onset_s").is_not_null())
    assert ((both["onset_s"] - both["onset_s_right"]).abs() <= 1.5).all()


def test_noise_free_signal_gives_same_numbers_at_5_and_10_fps():
    rows = []
    for fps in (5, 10):
        frames = synthetic_video("droop_growing_right", fps=fps, seed=0, jitter_mm=0.0,
                                 drop_fraction=0.0, outlier_fraction=0.0)  # fmt: skip
        rows.append(build_temporal_trends(build_temporal_series(frames))[0].row(0, named=True))
    a, b = rows
    assert a["trend_label"] == b["trend_label"] == "worsening"
    assert abs(a["onset_s"] - b["onset_s"]) <= 0.2 and abs(a["onset_s"] - 4.0) <= 0.5
    assert abs(a["mouth_time_beyond_s"] - b["mouth_time_beyond_s"]) <= 0.3
    assert abs(a["mouth_slope_per_s"] - b["mouth_slope_per_s"]) <= 0.05


def test_insufficient_data():
    frames = synthetic_video("droop_constant_left", fps=5, seed=0, gaps=((2.0, 10.0),))
    trends, _ = build_temporal_trends(build_temporal_series(frames))
    row = trends.row(0, named=True)
    assert row["trend_label"] == "insufficient_data" and row["risk_level"] == "unknown"


def test_plot_and_html(runs):
    series, trends, analyses = runs[5]
    plots = {}
    for mid in ("droop_growing_left-0", "symmetric_control-0"):
        png = plot_video_trends(series.filter(pl.col("media_id") == mid), analyses[mid])
        img = Image.open(io.BytesIO(png))
        assert img.format == "PNG" and img.width > 400
        plots[mid] = png
    page = render_dataset_report("demo-<video>", trends, plots)
    assert DISCLAIMER in page
    assert "demo-&lt;video&gt;" in page and "<video>" not in page
    assert page.count("data:image/png;base64,") == 2
    assert base64.b64encode(plots["symmetric_control-0"]).decode() in page
    assert "http://" not in page and "https://" not in page
    assert page.count('<section id="video-') == trends.height


def test_every_video_plot_is_reachable_by_file_name(runs, tmp_path):
    """The report's gallery holds every video's plot (not only the first few), each titled
    and captioned by its file name; the metadata markdown names every one."""
    series, trends, analyses = runs[5]
    trends = trends.with_columns(relpath=pl.format("clips/{}.mp4", pl.col("media_id")))
    assert trends.height > 6  # more than the UI shows inline
    html_path, pngs = write_trend_reports("demo-video", series, trends, analyses, tmp_path)
    page = html_path.read_text()
    assert set(pngs) == set(trends["media_id"]) and all(p.exists() for p in pngs.values())
    assert page.count("data:image/png;base64,") == trends.height
    for media_id, relpath in trends.select("media_id", "relpath").iter_rows():
        assert f"<figcaption>{relpath}</figcaption>" in page
        assert f'alt="trends of {relpath}"' in page
        assert pngs[media_id].name.startswith(f"trend_{media_id}_")
    # the index lists the videos by file name, each linking to its plot
    index = page[page.index('<table class="index">') : page.index("</table>")]
    listed = re.findall(r'<a href="#video-\d+">([^<]+)</a>', index)
    assert listed == sorted(trends["relpath"])

    mid = "droop_growing_left-0"
    fig = trend_figure(series.filter(pl.col("media_id") == mid), analyses[mid], "clips/a.mp4")
    assert fig._suptitle.get_text().startswith("clips/a.mp4 ")
    plt.close(fig)
    untitled = trend_figure(series.filter(pl.col("media_id") == mid), analyses[mid])
    assert untitled._suptitle.get_text().startswith(mid[:16])  # a hash, cut
    plt.close(untitled)

    markdown = trend_plots_markdown(trends, pngs, html_path, inline=3)
    assert markdown.count("data:image/png;base64,") == 3
    assert all(f"| {relpath} | `{pngs[m]}` |" in markdown for m, relpath in
               trends.select("media_id", "relpath").iter_rows())  # fmt: skip
    assert str(html_path) in markdown and f"All {trends.height} plots" in markdown
    first = sorted(trends["relpath"])[0]
    assert markdown.startswith(f"**{first}**")
