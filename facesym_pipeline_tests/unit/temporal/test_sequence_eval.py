"""Sequence classifier vs rule-based detector on unseen subjects: folds never share a
subject, intervals resample subjects, results repeat with the seed, and the final model
loads without unpickling code. The end-to-end case runs real clips through the real
landmark pass and temporal pipeline."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from facesym_pipeline.demo.videos import build_demo_videos
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames, passed_frames
from facesym_pipeline.lib.measure.feature_tables import (
    functional_table,
    still_media,
    symmetry_table,
)
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline.lib.media.sampling import sample_frames
from facesym_pipeline.lib.temporal.inputs import video_frames
from facesym_pipeline.lib.temporal.sequence_eval import (
    METRICS,
    compare_sequence_vs_rules,
    comparison_table,
    rule_decisions,
    subject_folds,
    train_final_model,
    training_thresholds,
)
from facesym_pipeline.lib.temporal.sequence_model import (
    load_sequence_model,
    predict_proba,
    sequences_from_series,
)
from facesym_pipeline.lib.temporal.series import build_temporal_series
from facesym_pipeline.lib.temporal.thresholds import DEFAULT_THRESHOLDS, healthy_threshold
from facesym_pipeline.lib.temporal.video_trends import build_temporal_trends

STILLS = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "obama.jpg")
FAST = {"epochs": 60}


@pytest.fixture(scope="module")
def real_clips(tmp_path_factory):
    """Still clips of three people (6 s), through the real pipeline to series and trends."""
    root = tmp_path_factory.mktemp("seq_eval_videos")
    labels = build_demo_videos(
        root, seed=3, schedules=(), include_real=False, stills=STILLS, still_duration_s=6.0
    )
    inventory = scan_dataset("seq-eval", root)
    frames = sample_frames(inventory, 5.0)
    landmarks = landmark_pass_for_dataset(inventory, frames, root, resolve_model(), workers=1)
    quality = judge_frames(landmarks, QualityThresholds())
    passed = passed_frames(landmarks, quality)
    symmetry = symmetry_table(passed, still_media(inventory))
    functional = functional_table(passed, symmetry)
    series = build_temporal_series(video_frames(symmetry, functional, inventory))
    trends, _ = build_temporal_trends(series)
    media_labels = inventory.filter(pl.col("kind") == "video").select(
        "media_id", "relpath", "label", "subject_id"
    )
    return labels, series, trends, media_labels


@pytest.mark.slow
def test_real_clips_comparison(real_clips):
    labels, series, trends, media_labels = real_clips
    assert media_labels["label"].is_not_null().all() and media_labels.height == 9
    table, details = compare_sequence_vs_rules(series, trends, media_labels, seed=1, **FAST)
    assert table.columns == [
        "method", "metric", "value", "ci_low", "ci_high", "n_videos", "n_subjects",
    ]  # fmt: skip
    assert table["method"].unique(maintain_order=True).to_list() == [
        "rule_based", "tcn_sequence", "tcn_sequence_minus_rule_based",
    ]  # fmt: skip
    assert set(table["metric"]) == set(METRICS)
    assert (table["n_videos"] == 9).all() and (table["n_subjects"] == 3).all()
    scored = table.filter(pl.col("method") != "tcn_sequence_minus_rule_based")
    assert scored["value"].is_between(0, 1).all()
    assert (scored["ci_low"] <= scored["value"] + 1e-12).all()
    assert (scored["value"] <= scored["ci_high"] + 1e-12).all()

    per_video = details.per_video
    assert details.n_folds == 3 and not details.skipped
    # Leave one subject out: each subject is one fold, each fold one subject.
    assert per_video.group_by("subject_id").agg(pl.col("fold").n_unique())["fold"].max() == 1
    assert per_video.group_by("fold").agg(pl.col("subject_id").n_unique())["subject_id"].max() == 1
    assert per_video["sequence_proba"].is_between(0, 1).all()
    # The rule decision is the documented one, read off the trends rows.
    expected = rule_decisions(trends)
    joined = per_video.join(expected, on="media_id", suffix="_trends")
    assert (joined["rule_decision"] == joined["rule_decision_trends"]).all()
    sens = table.filter((pl.col("method") == "rule_based") & (pl.col("metric") == "sensitivity"))
    truth = per_video["label"].to_numpy()
    rule = per_video["rule_decision"].to_numpy()
    assert sens["value"][0] == pytest.approx(rule[truth == 1].mean())

    again, details_again = compare_sequence_vs_rules(series, trends, media_labels, seed=1, **FAST)
    assert again.equals(table)
    assert details_again.per_video.equals(per_video)
    # The input scale of each fold comes from the other subjects' symmetric clips only.
    assert details.fold_epochs == [60] * 3 and len(details.fold_thresholds) == 3
    for k, scale in enumerate(details.fold_thresholds):
        held = per_video.filter(pl.col("fold") == k)["subject_id"][0]
        train_neg = per_video.filter((pl.col("subject_id") != held) & (pl.col("label") == 0))
        assert scale == training_thresholds(series, train_neg["media_id"].to_list(), 2)


@pytest.mark.slow
def test_fold_thresholds_and_refitted_rules(real_clips):
    _, series, trends, media_labels = real_clips
    negatives = media_labels.filter(pl.col("label") == 0)["media_id"].to_list()
    scale = training_thresholds(series, negatives, 3)
    col = "mouth_corner_height_diff_mm"
    measured = healthy_threshold(
        series.filter(pl.col("media_id").is_in(negatives))[col].fill_nan(None).drop_nulls()
    )
    # Three people are too few to lower a documented default, but may raise it.
    assert scale[col] == pytest.approx(max(measured, DEFAULT_THRESHOLDS[col]))
    assert all(scale[m] >= DEFAULT_THRESHOLDS[m] for m in DEFAULT_THRESHOLDS)

    table, details = compare_sequence_vs_rules(
        series, trends, media_labels, seed=0, refit_rules=True, **FAST
    )
    assert "each fold" in details.rule
    per_video = details.per_video
    for k, fold_scale in enumerate(details.fold_thresholds):
        ids = per_video.filter(pl.col("fold") == k)["media_id"].to_list()
        held = series.filter(pl.col("media_id").is_in(ids))
        expected = rule_decisions(build_temporal_trends(held, fold_scale)[0])
        got = per_video.filter(pl.col("fold") == k).join(expected, on="media_id", suffix="_x")
        assert got.height == len(ids)
        assert (got["rule_decision"] == got["rule_decision_x"]).all()
    fixed, fixed_details = compare_sequence_vs_rules(
        series, trends, media_labels, seed=0, thresholds="default", **FAST
    )
    assert all(t == DEFAULT_THRESHOLDS for t in fixed_details.fold_thresholds)
    with pytest.raises(ValueError, match="thresholds"):
        compare_sequence_vs_rules(series, trends, media_labels, thresholds="healthy", **FAST)


@pytest.mark.slow
def test_final_model_round_trip(real_clips, tmp_path):
    _, series, _, media_labels = real_clips
    path = tmp_path / "models" / "sequence.pt"
    model = train_final_model(series, media_labels, path, seed=2, **FAST)
    blob = torch.load(path, weights_only=True)
    assert blob["arch"] == "tcn" and blob["step_s"] == 0.2
    negatives = media_labels.filter(pl.col("label") == 0)["media_id"].to_list()
    assert blob["thresholds"] == training_thresholds(series, negatives, 3)
    seqs = sequences_from_series(series)
    np.testing.assert_allclose(
        predict_proba(load_sequence_model(path), seqs.x, seqs.lengths),
        predict_proba(model, seqs.x, seqs.lengths),
        rtol=1e-6,
    )


@pytest.mark.slow
def test_unlabelled_or_one_class_input_is_refused(real_clips):
    _, series, trends, media_labels = real_clips
    with pytest.raises(ValueError, match="both classes"):
        compare_sequence_vs_rules(series, trends, media_labels.filter(pl.col("label") == 1), **FAST)
    with pytest.raises(ValueError, match="no labelled video"):
        compare_sequence_vs_rules(
            series, trends, media_labels.with_columns(label=pl.lit(None)), **FAST
        )


def test_rule_decision_definition():
    trends = pl.DataFrame(
        {
            "media_id": ["a", "b", "c", "d", "e"],
            "mouth_flagged": [True, False, False, None, None],
            "mouth_trend": ["stable", "worsening", "improving", "insufficient_data", None],
        }
    )
    assert rule_decisions(trends)["rule_decision"].to_list() == [1, 1, 0, 0, 0]


def test_subject_folds_never_share_a_subject():
    y = np.array([1, 1, 0] * 6)
    groups = np.repeat(np.arange(6), 3)
    for n_splits in (None, 3):
        folds = subject_folds(y, groups, n_splits, seed=4)
        assert len(folds) == (6 if n_splits is None else 3)
        for train, test in folds:
            assert not set(groups[train]) & set(groups[test])
        held_out = np.concatenate([test for _, test in folds])
        assert sorted(held_out) == list(range(y.size))
    with pytest.raises(ValueError, match="two subjects"):
        subject_folds(y[:3], groups[:3])


def test_comparison_table_metrics_and_subject_bootstrap():
    # Three subjects, two positives and one negative each.
    y = np.array([1, 1, 0] * 3)
    groups = np.repeat(["s1", "s2", "s3"], 3)
    perfect = np.array([0.9, 0.8, 0.1] * 3)
    rule = np.array([1, 0, 0, 1, 1, 1, 1, 1, 0], dtype=float)  # sens 5/6, spec 2/3
    table = comparison_table(y, groups, {"rule_based": rule, "model": perfect}, n_boot=500)
    value = {(r["method"], r["metric"]): r for r in table.iter_rows(named=True)}
    assert value[("model", "roc_auc")]["value"] == 1.0
    assert value[("model", "balanced_accuracy")]["ci_low"] == 1.0
    assert value[("rule_based", "sensitivity")]["value"] == pytest.approx(5 / 6)
    assert value[("rule_based", "specificity")]["value"] == pytest.approx(2 / 3)
    assert value[("rule_based", "balanced_accuracy")]["value"] == pytest.approx(0.75)
    # A 0/1 score's AUC is its balanced accuracy.
    assert value[("rule_based", "roc_auc")]["value"] == pytest.approx(0.75)
    diff = value[("model_minus_rule_based", "balanced_accuracy")]
    assert diff["value"] == pytest.approx(0.25)
    # Resampling subjects: the worst resample is s2 alone (sens 1, spec 0).
    lo = value[("rule_based", "balanced_accuracy")]["ci_low"]
    assert 0.5 <= lo < 0.75
    again = comparison_table(y, groups, {"rule_based": rule, "model": perfect}, n_boot=500)
    assert again.equals(table)
