"""Image-model and shortcut-audit assets through Dagster on a small confounded dataset of real faces: crops,
both CNNs on subject-grouped folds, and the shortcut audit over every counterfactual set."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest
import torch

from facesym_pipeline.defs.deep_models.assets import (
    full_face_cnn,
    region_cnn,
    region_crops,
    shortcut_audit,
)
from facesym_pipeline.defs.jobs import DATASET_ASSETS
from facesym_pipeline.demo.images import Variant, build_demo_images
from facesym_pipeline.lib.image_models.train import load_network
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition, resources

pytestmark = pytest.mark.slow  # Dagster materialisations and CNN training

VARIANTS = (
    Variant("droop", "left", droop_mm=5.0),
    Variant("droop", "right", droop_mm=5.0),
    Variant("ptosis", "right", ptosis_mm=3.0),
    Variant("original"),
    Variant("noise"),
    Variant("lighting"),
)
# Every variant of these faces passes quality, so every image must get its crops (the
# 95-px face of astronaut.png sits at the 1.5 mm/px and 1 mm blur limits).
SOURCES = ("0-f1-su-ph.jpg", "obama.jpg", "single_face.jpg", "0-f15-hao-ph.jpg")
SETS = {
    "in_distribution", "lighting", "background_blur", "background_grey", "jpeg", "flip",
    "asymmetry_removed", "confound_broken",
}  # fmt: skip


@pytest.fixture(scope="module")
def deep_models(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp("deep_models")
    build_demo_images(root / "data" / "conf", sources=SOURCES, variants=VARIANTS, confound=True)
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_partition(
        [*DATASET_ASSETS, region_crops], "conf", root / "data", root / "wh", instance=instance,
        workers=2,
    ).success  # fmt: skip
    cnn = {"epochs": 2, "threads": 1}
    result = dg.materialize(
        [full_face_cnn, region_cnn, shortcut_audit],
        partition_key="conf",
        instance=instance,
        resources=resources(root / "data", root / "wh"),
        run_config={
            "ops": {
                "full_face_cnn": {"config": cnn},
                "region_cnn": {"config": cnn},
                "shortcut_audit": {"config": {"n_boot": 50}},
            }
        },
    )
    return root / "wh", result


def test_crops_are_indexed_files(deep_models):
    wh, _ = deep_models
    index = Lake.in_warehouse(wh).read("region_crops", "conf")
    assert set(index["region"]) >= {"full_face", "mouth", "mouth_mirrored", "eye_left", "nose"}
    assert index["media_id"].n_unique() == len(SOURCES) * len(VARIANTS)
    for row in index.head(5).iter_rows(named=True):
        assert (wh / "crops" / "conf" / row["path"]).stat().st_size > 100


def test_cnns_are_saved_per_fold_and_load_without_code_execution(deep_models):
    wh, result = deep_models
    assert result.success
    for kind in ("full_face_cnn", "region_cnn"):
        files = sorted((wh / "models" / "cnn" / "conf" / kind).glob("fold*.pt"))
        assert len(files) >= 2
        payload = torch.load(files[0], weights_only=True)
        assert payload["kind"] == kind
        assert not load_network(files[0]).training
        (event,) = [
            e for e in result.asset_materializations_for_node(kind)
            if e.asset_key == dg.AssetKey(kind)
        ]  # fmt: skip
        assert 0.0 <= event.metadata["out_of_fold_roc_auc"].value <= 1.0
        history = Lake.in_warehouse(wh).read(f"{kind}_history", "conf")
        assert history["epoch"].max() >= 1


def test_audit_covers_every_model_and_set_on_the_same_folds(deep_models):
    wh, result = deep_models
    lake = Lake.in_warehouse(wh)
    table = lake.read("shortcut_audit", "conf")
    assert set(table["model"]) == {"landmark_geometry", "full_face_cnn", "region_cnn"}
    assert set(table["test_set"]) == SETS
    accuracy = table.filter(pl.col("metric") == "accuracy")
    assert accuracy["value"].is_between(0, 1).all()
    folds = lake.read("audit_folds", "conf")
    by_group = folds.group_by("group").agg(pl.col("fold").n_unique())
    assert (by_group["fold"] == 1).all()  # no subject on both sides of a split
    comparison = lake.read("model_comparison", "conf")
    assert {"landmark_geometry", "full_face_cnn", "region_cnn"} <= set(comparison.columns)
    (event,) = [
        e for e in result.asset_materializations_for_node("shortcut_audit")
        if e.asset_key == dg.AssetKey("shortcut_audit")
    ]  # fmt: skip
    summary = event.metadata["summary"].value
    assert all(f"**{m}**" in summary for m in ("landmark_geometry", "full_face_cnn", "region_cnn"))
    for name in ("shortcut_audit.png", "shortcut_audit.md", "attribution.png"):
        assert (wh / "reports" / "conf" / name).stat().st_size > 500
