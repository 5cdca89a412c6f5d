"""The normative chain through Dagster on a subset of the real reference population:
healthy ranges from fit people only, a calibrated risk model, and a validity report whose
figures come from held-out people only; `facesym analyze` then uses both."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from facesym_pipeline.defs.jobs import DATASET_ASSETS
from facesym_pipeline.defs.normative.assets import healthy_ranges, risk_model, validity_report
from facesym_pipeline.demo.population import fetch_population, population_files
from facesym_pipeline.demo.reference import (
    REFERENCE,
    REFERENCE_INJECTED,
    Injection,
    build_reference,
    build_reference_injected,
)
from facesym_pipeline.lib.file_analysis import Analyzer
from facesym_pipeline.lib.measure.reference_split import FIT, HELD_OUT, split_of
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition, resources

pytestmark = pytest.mark.slow
N_PEOPLE = 30
INJECTIONS = (
    Injection("original", "none"),
    Injection("droop", "displacement_field", 2.0),
    Injection("droop", "displacement_field", 4.0),
    Injection("ptosis", "occluding_lid", 2.0),
    Injection("droop", "mesh_warp", 3.0),
    Injection("ptosis", "lid_margin_shift", 2.0),
)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    fetch_population()
    people = [f.subject_id for f in population_files() if f.file.endswith(".jpg")][:N_PEOPLE]
    root = tmp_path_factory.mktemp("normative")
    build_reference(root / "data" / REFERENCE, people)
    build_reference_injected(root / "data" / REFERENCE_INJECTED, people, INJECTIONS)
    instance = dg.DagsterInstance.ephemeral()
    assets = [a for a in DATASET_ASSETS if a.key.path[-1] != "region_crops"]
    for key in (REFERENCE, REFERENCE_INJECTED):
        result = materialize_partition(assets, key, root / "data", root / "wh", instance, workers=2)
        assert result.success
    result = dg.materialize(
        [healthy_ranges, risk_model, validity_report],
        instance=instance,
        resources=resources(root / "data", root / "wh"),
    )
    assert result.success
    return root / "wh", people, result


def test_healthy_ranges_come_from_fit_people_only(warehouse):
    wh, people, _ = warehouse
    ranges = Lake.in_warehouse(wh).read("healthy_ranges", None)
    fit_people = sum(split_of(p) == FIT for p in people)
    pooled = ranges.filter((pl.col("expression") == "any") & (pl.col("yaw_bin") == "any"))
    assert pooled.height > 0
    assert pooled["n_subjects"].max() <= fit_people
    assert (pooled["p50"] <= pooled["p95"]).all() and (pooled["p95"] <= pooled["p99"]).all()


def test_risk_model_is_fitted_on_fit_people_with_population_levels(warehouse):
    wh, _, _ = warehouse
    lake = Lake.in_warehouse(wh)
    model = lake.read("risk_model", None).row(0, named=True)
    assert model["method"] in {"rule", "logistic"}
    assert model["elevated_at"] < model["high_at"]
    scores = lake.read("risk_model_scores", None)
    assert {split_of(s) for s in scores["subject_id"].unique()} == {FIT}


def test_validity_report_speaks_only_of_held_out_people(warehouse):
    wh, people, _ = warehouse
    report = Lake.in_warehouse(wh).read("validity_report", None)
    sections = set(report["section"])
    assert {"false_alarm_rate", "ranking_auc", "calibration_slope", "rejection_rate"} <= sections
    held_out = sum(split_of(p) == HELD_OUT for p in people)
    alarms = report.filter(pl.col("section") == "false_alarm_rate")
    assert 0 < alarms["n"].max() <= held_out
    auc = report.filter(pl.col("section") == "ranking_auc")
    assert auc.height == len(INJECTIONS) - 1  # one row per size and renderer
    assert auc["n"].max() <= held_out and auc["value"].is_between(0, 1).all()
    # The instrument reads the injected droop on held-out people (slope near 1), whichever
    # renderer drew it.
    slopes = report.filter(
        (pl.col("section") == "calibration_slope") & pl.col("item").str.starts_with("mouth")
    )
    assert set(slopes["item"].str.extract(r"\((.+)\)")) == {"displacement_field", "mesh_warp"}
    assert slopes["value"].is_between(0.7, 1.3).all(), slopes
    assert (report.filter(pl.col("ci_low").is_not_null())["ci_low"] <= report.filter(
        pl.col("ci_low").is_not_null())["value"] + 1e-9).all()  # fmt: skip


def test_analyze_uses_the_calibrated_ranges_and_model(warehouse, tmp_path):
    wh, people, _ = warehouse
    held = next(p for p in people if split_of(p) == HELD_OUT)
    analyzer = Analyzer(warehouse_dir=wh)
    try:
        report = analyzer.analyze(wh.parent / "data" / REFERENCE / f"{held}.jpg")
    finally:
        analyzer.close()
    assert report["status"] == "ok"
    assert "fit people" in report["risk"]["calibration"]
    assert report["risk"]["ranges"] == "normative ranges of the reference population"
