"""Video-trend ground truth on generated videos made from a real person's frames, run through
the Dagster assets: a growing droop is `worsening` with its onset within 1 s, a constant
droop is persistent but `stable`, the symmetric control is not flagged."""

from __future__ import annotations

import polars as pl
import pytest

from facesym_pipeline.defs.jobs import DATASET_ASSETS, TREND_ASSETS
from facesym_pipeline.demo.videos import build_demo_videos
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition

pytestmark = pytest.mark.slow  # Dagster materialisations of generated videos


@pytest.fixture(scope="module")
def run(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp("videos")
    truth = build_demo_videos(root / "data" / "clips", include_real=False, stills=None)
    assets = [a for a in DATASET_ASSETS if a.key.path[-1] != "region_crops"] + TREND_ASSETS
    result = materialize_partition(assets, "clips", root / "data", root / "wh", workers=2)
    assert result.success
    lake = Lake.in_warehouse(root / "wh")
    table = lake.read("temporal_trends", "clips")
    return table.join(truth.rename({"file": "relpath"}), on="relpath"), lake


@pytest.fixture(scope="module")
def trends(run):
    return run[0]


def test_per_second_aggregates_cover_every_second_of_every_video(run):
    _, lake = run
    seconds = lake.read("temporal_series_per_second", "clips")
    per_video = seconds.group_by("media_id").agg(pl.col("second").n_unique())
    assert per_video.height == 4
    assert (per_video["second"] == 10).all()  # 10-second clips
    assert (seconds["n_observed"] <= 5).all()  # at most 5 sampled frames per second


def _row(trends: pl.DataFrame, kind: str, side: str) -> dict:
    return trends.filter((pl.col("kind") == kind) & (pl.col("side") == side)).row(0, named=True)


@pytest.mark.parametrize("side", ["left", "right"])
def test_growing_droop_is_worsening_from_its_onset(trends, side):
    row = _row(trends, "growing_droop", side)
    assert row["trend_label"] == "worsening"
    assert row["mouth_trend"] == "worsening"
    assert abs(row["mouth_onset_s"] - row["onset_s"]) <= 1.0
    assert row["mouth_slope_per_s"] > 0.2  # mm/s away from the face's own start
    assert "worsening" in row["reasons"]


def test_constant_droop_is_persistent_but_stable(trends):
    row = _row(trends, "constant_droop", "left")
    assert row["mouth_flagged"]
    assert row["mouth_trend"] == "stable"
    assert row["mouth_longest_run_s"] >= 5.0
    assert "left corner lower" in row["reasons"]


def test_symmetric_control_is_not_flagged(trends):
    row = _row(trends, "symmetric", "none")
    assert row["trend_label"] == "stable"
    assert not any(row[f"{region}_flagged"] for region in ("mouth", "eyes", "nose", "brows"))
    assert row["risk_level"] in {"none", "low"}
