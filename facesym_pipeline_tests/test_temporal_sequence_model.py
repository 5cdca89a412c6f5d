"""The sequence classifier: deterministic, safe to load, and on unseen subjects at least as
good as the rule-based detector on synthetic demo-like videos."""

import numpy as np
import polars as pl
import pytest
import torch

from facesym_pipeline.lib.temporal.report import build_temporal_trends
from facesym_pipeline.lib.temporal.sequence_model import (
    grouped_cv_compare,
    load_model,
    predict_proba,
    save_model,
    sequences_from_series,
    train_sequence_model,
)
from facesym_pipeline.lib.temporal.series import build_temporal_series
from facesym_pipeline.lib.temporal.synthetic import SCENARIOS, synthetic_video


@pytest.fixture(scope="module")
def data():
    frames, subject, label = [], {}, {}
    for person in range(8):
        for sc in SCENARIOS:
            mid = f"{sc}-{person}"
            fps = 5 if person % 2 else 10
            frames.append(synthetic_video(sc, fps=fps, seed=200 + person, media_id=mid))
            subject[mid], label[mid] = person, int(SCENARIOS[sc] is not None)
    series = build_temporal_series(pl.concat(frames, how="diagonal_relaxed"))
    trends, _ = build_temporal_trends(series)
    seqs = sequences_from_series(series)
    y = np.array([label[m] for m in seqs.media_ids])
    groups = np.array([subject[m] for m in seqs.media_ids])
    rule = {
        r["media_id"]: float(r["mouth_flagged"] or r["mouth_trend"] == "worsening")
        for r in trends.iter_rows(named=True)
    }
    return seqs, y, groups, np.array([rule[m] for m in seqs.media_ids])


def test_sequences_are_rate_independent(data):
    seqs, *_ = data
    assert seqs.x.shape[1] == 50  # 10 s at 0.2 s steps, whether sampled at 5 or 10 fps
    assert set(seqs.lengths.tolist()) <= {49, 50}  # a dropped last frame shortens by one


def test_deterministic_and_weights_only_roundtrip(data, tmp_path):
    seqs, y, *_ = data
    a = train_sequence_model(seqs.x, seqs.lengths, y, seed=3, epochs=30)
    b = train_sequence_model(seqs.x, seqs.lengths, y, seed=3, epochs=30)
    pa = predict_proba(a, seqs.x, seqs.lengths)
    assert np.array_equal(pa, predict_proba(b, seqs.x, seqs.lengths))
    path = tmp_path / "seq.pt"
    save_model(a, path)
    blob = torch.load(path, weights_only=True)
    assert set(blob) >= {"state_dict", "arch", "features"}
    assert np.allclose(pa, predict_proba(load_model(path), seqs.x, seqs.lengths))


def test_gru_variant_trains(data):
    seqs, y, *_ = data
    model = train_sequence_model(seqs.x, seqs.lengths, y, arch="gru", epochs=40)
    p = predict_proba(model, seqs.x, seqs.lengths)
    assert ((p >= 0.5) == y).mean() >= 0.75


def test_grouped_cv_not_worse_than_rules(data):
    seqs, y, groups, rule = data
    table, oof = grouped_cv_compare(seqs, y, groups, rule, n_splits=4)
    assert table["method"].to_list() == ["rule_based", "tcn_sequence"]
    assert np.isfinite(oof).all()
    rule_ba, seq_ba = table["balanced_accuracy"].to_list()
    assert rule_ba >= 0.9
    assert seq_ba >= rule_ba - 1e-9
