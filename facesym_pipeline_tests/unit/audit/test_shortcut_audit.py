import numpy as np
import polars as pl
import pytest

from facesym_pipeline.lib.audit.counterfactual import IN_DISTRIBUTION, Sample, detect_landmarks
from facesym_pipeline.lib.audit.geometry_model import geometry_features
from facesym_pipeline.lib.audit.shortcut_audit import (
    AUDIT_SCHEMA,
    audit_markdown,
    audit_plot,
    audit_table,
    comparison_frame,
    per_fold_predictor,
    predict_sets,
    shortcut_findings,
)
from facesym_pipeline.lib.classify.training_data import CLASSIFIER_FEATURES
from facesym_pipeline.lib.face.landmarker import create_landmarker
from facesym_pipeline.lib.media.decode import load_image_rgb


def _sets() -> dict[str, list[Sample]]:
    """Tiny grey images: the label is carried by a bright mark on one side (the 'real'
    asymmetry); in distribution the positives are also darker (the shortcut); in the
    confound-broken set darkness goes with the negatives."""
    rng = np.random.default_rng(0)

    def make(label, dark, subject, i, set_name):
        level = 70 if dark else 170
        img = np.full((8, 8, 3), level, np.uint8) + rng.integers(0, 5, (8, 8, 3)).astype(np.uint8)
        if label:
            img[2:4, 5:7] = 255
        return Sample(img, label, subject, {"sample_id": f"{set_name}:{subject}:{i}"})

    sets = {}
    for name, dark_positive in ((IN_DISTRIBUTION, True), ("confound_broken", False)):
        items = []
        for k in range(8):
            for i in range(6):
                label = i % 2
                items.append(make(label, label == dark_positive, f"s{k}", i, name))
        sets[name] = items
    return sets


def brightness_model(samples):  # relies on the shortcut
    return np.array([1.0 - s.image.mean() / 255.0 for s in samples])


def mark_model(samples):  # looks at the asymmetry itself
    return np.array([0.9 if s.image[2:4, 5:7].min() == 255 else 0.1 for s in samples])


@pytest.fixture(scope="module")
def table():
    sets = _sets()
    preds = pl.concat(
        [predict_sets("shortcut", brightness_model, sets), predict_sets("honest", mark_model, sets)]
    )
    return audit_table(preds, n_boot=200)


def test_table_shape_and_values(table):
    assert table.schema == pl.Schema(AUDIT_SCHEMA)
    assert table.height == 2 * 2 * 3

    def value(model, test_set, metric):
        return table.filter(
            (pl.col("model") == model)
            & (pl.col("test_set") == test_set)
            & (pl.col("metric") == metric)
        )["value"][0]

    assert value("shortcut", IN_DISTRIBUTION, "accuracy") == 1.0
    assert value("shortcut", "confound_broken", "accuracy") == 0.0
    assert value("shortcut", "confound_broken", "roc_auc") == 0.0
    assert value("honest", "confound_broken", "accuracy") == 1.0
    assert (table["n"] == 48).all() and (table["n_subjects"] == 8).all()
    ok = table.filter(pl.col("ci_low").is_not_nan())
    assert (ok["ci_low"] <= ok["value"]).all() and (ok["value"] <= ok["ci_high"]).all()


def test_findings_and_markdown_name_the_shortcut(table):
    findings = shortcut_findings(table, "accuracy", margin=0.1)
    relied = findings.filter(pl.col("relied"))
    assert relied.select("model", "test_set").rows() == [("shortcut", "confound_broken")]
    md = audit_markdown(table)
    assert "**shortcut** (in_distribution 1.00) relied on: the class-linked" in md
    assert "**honest** (in_distribution 1.00): no drop above 0.10" in md
    wide = comparison_frame(table)
    assert wide.columns == ["test_set", "shortcut", "honest"]
    assert audit_plot(table).startswith(b"\x89PNG")


def test_unscored_rows_are_left_out_for_every_model():
    sets = _sets()

    def sometimes(samples):
        p = mark_model(samples)
        p[:3] = np.nan
        return p

    preds = pl.concat([predict_sets("a", sometimes, sets), predict_sets("b", mark_model, sets)])
    t = audit_table(preds, metrics=("accuracy",), n_boot=50)
    assert (t["n"] == 45).all() and (t["n_unscored"] == 3).all()


def test_per_fold_predictor_routes_by_subject():
    samples = _sets()[IN_DISTRIBUTION]
    route = per_fold_predictor(
        {0: lambda s: np.zeros(len(s)), 1: lambda s: np.ones(len(s))},
        {f"s{k}": k % 2 for k in range(8)},
    )
    p = route(samples)
    assert np.array_equal(p, np.array([int(s.subject_id[1:]) % 2 for s in samples], dtype=float))


def test_geometry_features_on_a_real_face(samples, model_path):
    rgb = load_image_rgb(samples["obama.jpg"], max_side=640)
    with create_landmarker(model_path) as lm:
        landmarks = detect_landmarks(lm, rgb)
    items = [
        Sample(rgb, 0, "o", {"sample_id": "x"}, landmarks),
        Sample(rgb, 0, "o", {"sample_id": "y"}),
    ]
    feats = geometry_features(items)
    assert feats["media_id"].to_list() == ["x", "y"]
    cols = [c for c in CLASSIFIER_FEATURES if c in feats.columns]
    assert "mouth_corner_height_diff_mm_abs" in cols and "procrustes_face" in cols
    assert feats.row(0, named=True)["procrustes_mouth"] > 0
    assert all(feats.row(1, named=True)[c] is None for c in cols)
