import json
import os

import numpy as np
import polars as pl
import pytest
import skops.io as sio
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, MinMaxScaler

from facesym_pipeline.lib.classify.model_selection import candidate_models, fit_small
from facesym_pipeline.lib.store.model_files import (
    REGISTRY_SCHEMA,
    UntrustedModelError,
    disallowed_types,
    latest_model,
    list_models,
    load_classifier,
    load_classifier_bytes,
    model_id_for,
    save_classifier,
)

FEATURES = ["mouth_corner_height_diff_mm", "eye_opening_diff_mm", "brow_height_diff_mm"]


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(80, 3))
    X[::9, 1] = np.nan
    y = (X[:, 0] + 0.3 * rng.normal(size=80) < 0).astype(int)
    return X, y


def _save(model, directory, created_at="2026-01-01T00:00:00+00:00", partitions=("demo",)):
    return save_classifier(
        model,
        directory,
        model_name=type(model).__name__,
        feature_cols=FEATURES,
        training_partitions=list(partitions),
        metrics={"grouped/roc_auc": 0.81, "random/roc_auc": 0.97},
        code_version="0.1.0+test",
        created_at=created_at,
    )


@pytest.mark.parametrize("name", ["logreg", "gbt"])
def test_round_trip_predicts_identically(tmp_path, name):
    X, y = _data()
    model = fit_small(candidate_models(seed=3)[name], X, y)
    rec = _save(model, tmp_path)
    assert len(rec.model_id) == 12
    assert (tmp_path / f"{rec.model_id}.skops").is_file()
    loaded, rec2 = load_classifier(tmp_path, rec.model_id)
    assert rec2 == rec
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    meta = json.loads((tmp_path / f"{rec.model_id}.json").read_text())
    assert meta["feature_cols"] == FEATURES and meta["training_partitions"] == ["demo"]
    assert meta["metrics"]["grouped/roc_auc"] == 0.81
    assert meta["created_at"] == "2026-01-01T00:00:00+00:00"


def test_model_id_is_a_content_hash():
    X, y = _data()
    a = fit_small(candidate_models(seed=0)["gbt"], X, y)
    b = fit_small(candidate_models(seed=0)["gbt"], X, y)
    c = fit_small(candidate_models(seed=0)["gbt"], X[:60], y[:60])
    ida = model_id_for(a, FEATURES, ["demo"], "v1")
    assert ida == model_id_for(b, FEATURES, ["demo"], "v1")
    assert ida != model_id_for(c, FEATURES, ["demo"], "v1")
    assert ida != model_id_for(a, FEATURES, ["demo", "other"], "v1")
    assert ida != model_id_for(a, FEATURES, ["demo"], "v2")


def test_refuses_a_function_reference(tmp_path):
    # a pipeline step that would call os.system: skops itself flags it; the store refuses it
    evil = Pipeline([("f", FunctionTransformer(func=os.system))])
    data = sio.dumps(evil)
    refused = disallowed_types(data)
    assert any("system" in t for t in refused)
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" in refused
    with pytest.raises(UntrustedModelError, match="allowlist"):
        load_classifier_bytes(data)
    with pytest.raises(UntrustedModelError):
        _save(evil, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_refuses_an_estimator_skops_trusts_but_we_do_not_expect(tmp_path):
    X, y = _data()
    other = Pipeline([("scale", MinMaxScaler()), ("clf", RidgeClassifier())])
    data = sio.dumps(other.fit(np.nan_to_num(X), y))
    assert sio.get_untrusted_types(data=data) == []  # skops's default would load it
    assert disallowed_types(data) == [
        "sklearn.linear_model._ridge.RidgeClassifier",
        "sklearn.preprocessing._data.MinMaxScaler",
        "sklearn.preprocessing._label.LabelBinarizer",
    ]
    with pytest.raises(UntrustedModelError):
        load_classifier_bytes(data)


def test_refuses_a_swapped_file(tmp_path):
    X, y = _data()
    models = candidate_models(seed=0)
    a = _save(fit_small(models["logreg"], X, y), tmp_path)
    b = _save(fit_small(models["gbt"], X, y), tmp_path)
    (tmp_path / f"{a.model_id}.skops").write_bytes((tmp_path / f"{b.model_id}.skops").read_bytes())
    with pytest.raises(UntrustedModelError, match="sidecar"):
        load_classifier(tmp_path, a.model_id)
    with pytest.raises(ValueError):
        load_classifier(tmp_path, "../../etc/passwd")


def test_registry_lists_models_newest_first(tmp_path):
    assert list_models(tmp_path / "none").schema == pl.Schema(REGISTRY_SCHEMA)
    assert latest_model(tmp_path) is None
    X, y = _data()
    models = candidate_models(seed=0)
    old = _save(fit_small(models["logreg"], X, y), tmp_path, created_at="2026-01-01T00:00:00+00:00")
    new = _save(fit_small(models["gbt"], X, y), tmp_path, created_at="2026-02-01T00:00:00+00:00")
    (tmp_path / "notes.json").write_text('{"unrelated": true}')
    reg = list_models(tmp_path)
    assert reg.schema == pl.Schema(REGISTRY_SCHEMA)
    assert reg["model_id"].to_list() == [new.model_id, old.model_id]
    assert reg["n_features"].to_list() == [3, 3]
    assert json.loads(reg["metrics_json"][0])["random/roc_auc"] == 0.97
    assert latest_model(tmp_path) == new
