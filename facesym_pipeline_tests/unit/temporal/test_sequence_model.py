"""The sequence classifier: deterministic, safe to load, blind to which side droops, and on
unseen subjects at least as good as the rule-based detector on synthetic demo-like videos."""

import numpy as np
import polars as pl
import pytest
import torch

from facesym_pipeline.demo.synthetic_series import SCENARIOS, synthetic_video
from facesym_pipeline.lib.temporal.config import MEASURES
from facesym_pipeline.lib.temporal.sequence_eval import compare_sequence_vs_rules, rule_decisions
from facesym_pipeline.lib.temporal.sequence_model import (
    FEATURES,
    N_MEASURES,
    choose_epochs,
    load_sequence_model,
    predict_proba,
    save_sequence_model,
    sequences_from_series,
    threshold_vector,
    train_sequence_model,
)
from facesym_pipeline.lib.temporal.series import build_temporal_series
from facesym_pipeline.lib.temporal.video_trends import build_temporal_trends


@pytest.fixture(scope="module")
def videos():
    """Series, trends and labels of 32 synthetic videos of 8 people."""
    frames, rows = [], []
    for person in range(8):
        for sc in SCENARIOS:
            mid = f"{sc}-{person}"
            fps = 5 if person % 2 else 10
            frames.append(synthetic_video(sc, fps=fps, seed=200 + person, media_id=mid))
            rows.append({"media_id": mid, "label": int(SCENARIOS[sc] is not None),
                         "subject_id": str(person)})  # fmt: skip
    series = build_temporal_series(pl.concat(frames, how="diagonal_relaxed"))
    trends, _ = build_temporal_trends(series)
    return series, trends, pl.DataFrame(rows)


@pytest.fixture(scope="module")
def data(videos):
    series, trends, labels = videos
    seqs = sequences_from_series(series)
    by_id = {r["media_id"]: r for r in labels.iter_rows(named=True)}
    y = np.array([by_id[m]["label"] for m in seqs.media_ids])
    groups = np.array([int(by_id[m]["subject_id"]) for m in seqs.media_ids])
    rule = dict(rule_decisions(trends).iter_rows())
    return seqs, y, groups, np.array([float(rule[m]) for m in seqs.media_ids])


def test_sequences_are_rate_independent(data):
    seqs, *_ = data
    assert seqs.x.shape[1] == 50  # 10 s at 0.2 s steps, whether sampled at 5 or 10 fps
    assert set(seqs.lengths.tolist()) <= {49, 50}  # a dropped last frame shortens by one
    assert seqs.x.shape[2] == len(FEATURES) == 3 * N_MEASURES


def test_change_channel_is_level_minus_early_median(data):
    seqs, y, *_ = data
    j = MEASURES.index("mouth_corner_height_diff_mm")
    for i in range(len(seqs.media_ids)):
        n = seqs.lengths[i]
        level, change = seqs.x[i, :n, j], seqs.x[i, :n, N_MEASURES + j]
        observed = seqs.x[i, :n, 2 * N_MEASURES + j] > 0
        first = np.flatnonzero(observed)[0]
        window = observed[first : first + 10]  # 2 s at 0.2 s steps
        base = np.median(level[first : first + 10][window])
        np.testing.assert_allclose(change[observed], level[observed] - base, atol=1e-5)
    # Symmetric controls barely move from their start; growing droops move several mm.
    final_change = np.abs(seqs.x[:, 40:48, N_MEASURES + j]).mean(1)
    growing = np.array(["growing" in m for m in seqs.media_ids])
    assert final_change[growing].min() > 2.0 > 1.0 > final_change[y == 0].max()


def test_a_droop_on_either_side_scores_the_same(data):
    seqs, y, *_ = data
    model = train_sequence_model(seqs.x, seqs.lengths, y, seed=0, epochs=40)
    mirrored = seqs.x.copy()
    mirrored[..., : 2 * N_MEASURES] *= -1  # every signed left-minus-right channel flips
    np.testing.assert_array_equal(
        predict_proba(model, seqs.x, seqs.lengths), predict_proba(model, mirrored, seqs.lengths)
    )


def test_inputs_are_in_threshold_units(data):
    seqs, y, *_ = data
    thresholds = {m: 2.0 for m in MEASURES}
    a = train_sequence_model(seqs.x, seqs.lengths, y, seed=1, epochs=30, thresholds=thresholds)
    assert a.thresholds == thresholds
    # Doubling every measurement and every threshold leaves the inputs, hence the model, as is.
    doubled = seqs.x.copy()
    doubled[..., : 2 * N_MEASURES] *= 2.0  # levels and changes; the masks stay 0/1
    b = train_sequence_model(
        doubled, seqs.lengths, y, seed=1, epochs=30, thresholds={m: 4.0 for m in MEASURES}
    )
    np.testing.assert_allclose(
        predict_proba(a, seqs.x, seqs.lengths),
        predict_proba(b, doubled, seqs.lengths),
        rtol=1e-4,
        atol=1e-6,
    )


@pytest.mark.slow
def test_epochs_are_chosen_on_inner_subject_folds(data):
    seqs, y, groups, _ = data
    chosen = choose_epochs(seqs.x, seqs.lengths, y, groups, max_epochs=60, seed=0,
                           arch="tcn", hidden=4, lr=0.01, weight_decay=1e-2, dropout=0.2,
                           thresholds=[2.0] * N_MEASURES, augment=True, level="magnitude")  # fmt: skip
    assert 1 <= chosen <= 60
    model = train_sequence_model(seqs.x, seqs.lengths, y, groups=groups, max_epochs=60)
    assert model.epochs_trained == chosen
    # One subject cannot be split into validation folds: fall back to half the maximum.
    lone = train_sequence_model(seqs.x, seqs.lengths, y, groups=np.zeros(y.size), max_epochs=60)
    assert lone.epochs_trained == 30


def test_deterministic_and_weights_only_roundtrip(data, tmp_path):
    seqs, y, *_ = data
    a = train_sequence_model(seqs.x, seqs.lengths, y, seed=3, epochs=30)
    b = train_sequence_model(seqs.x, seqs.lengths, y, seed=3, epochs=30)
    pa = predict_proba(a, seqs.x, seqs.lengths)
    assert np.array_equal(pa, predict_proba(b, seqs.x, seqs.lengths))
    path = tmp_path / "seq.pt"
    save_sequence_model(a, path)
    blob = torch.load(path, weights_only=True)
    assert set(blob) >= {"state_dict", "arch", "features", "thresholds", "level"}
    loaded = load_sequence_model(path)
    assert loaded.thresholds == a.thresholds and loaded.level == "magnitude"
    assert np.allclose(pa, predict_proba(loaded, seqs.x, seqs.lengths))


def test_gru_variant_trains(data):
    seqs, y, *_ = data
    model = train_sequence_model(seqs.x, seqs.lengths, y, arch="gru", epochs=80)
    p = predict_proba(model, seqs.x, seqs.lengths)
    assert ((p >= 0.5) == y).mean() >= 0.75


def test_excess_level_ignores_values_inside_the_healthy_range(data):
    seqs, y, *_ = data
    model = train_sequence_model(seqs.x, seqs.lengths, y, epochs=20, level="excess")
    x = seqs.x.copy()
    x[..., N_MEASURES : 2 * N_MEASURES] = 0.0  # no change from baseline
    inside = x.copy()
    inside[..., :N_MEASURES] = 0.5 * np.float32(threshold_vector(None))  # half the range
    zero = x.copy()
    zero[..., :N_MEASURES] = 0.0
    np.testing.assert_array_equal(
        predict_proba(model, inside, seqs.lengths), predict_proba(model, zero, seqs.lengths)
    )
    with pytest.raises(ValueError, match="level"):
        train_sequence_model(seqs.x, seqs.lengths, y, epochs=1, level="signed")


@pytest.mark.slow
def test_grouped_cv_not_worse_than_rules(videos):
    series, trends, labels = videos
    table, details = compare_sequence_vs_rules(
        series, trends, labels, n_splits=4, n_boot=200, thresholds="default"
    )
    balanced = dict(
        table.filter(pl.col("metric") == "balanced_accuracy").select("method", "value").iter_rows()
    )
    assert np.isfinite(details.per_video["sequence_proba"].to_numpy()).all()
    assert balanced["rule_based"] >= 0.9
    assert balanced["tcn_sequence"] >= balanced["rule_based"] - 1e-9
