"""The lid-margin gate: eye measures of a frame whose refined upper-lid margin is
ambiguous are withheld with a reason, everything else is reported as before, and the
feature tables and media summaries carry the nulls."""

from __future__ import annotations

import numpy as np
import polars as pl

from facesym_pipeline.lib.measure.feature_dictionary import feature_dictionary
from facesym_pipeline.lib.measure.media_summary import summarise_media
from facesym_pipeline.lib.measure.registry import (
    LID_GATED_MEASURES,
    LID_MARGIN_MAX_AMBIGUITY,
    LID_MARGIN_MAX_COMPETITOR,
)
from facesym_pipeline.lib.measure.symmetry import (
    COLUMNS,
    EYE_GATE_COLUMN,
    LID_MARGIN_AMBIGUOUS,
    LID_MARGIN_NOT_FOUND,
    eye_measure_gate,
    symmetry_features,
)
from facesym_pipeline_tests.helpers import still

GATED = {c for m in LID_GATED_MEASURES for c in (m, m.removesuffix("_mm") + "_ipd")}


def test_gate_reasons_follow_the_registry_limits():
    clear = [0.2, 0.0]
    confidence = np.array(
        [
            [clear, clear],
            [clear, [LID_MARGIN_MAX_COMPETITOR, 0.0]],  # the left eye has a rival edge
            [[0.2, LID_MARGIN_MAX_AMBIGUITY], clear],  # an edge nearer the pupil
            [[0.2, 0.99 * LID_MARGIN_MAX_AMBIGUITY], [0.99 * LID_MARGIN_MAX_COMPETITOR, 0.0]],
            [[np.inf, np.inf], clear],  # no margin found
            [[np.nan, np.nan], [np.nan, np.nan]],  # not refined (a video frame)
        ]
    )
    assert eye_measure_gate(confidence).tolist() == [
        None, LID_MARGIN_AMBIGUOUS, LID_MARGIN_AMBIGUOUS, None, LID_MARGIN_NOT_FOUND, None,
    ]  # fmt: skip


def test_withheld_frames_lose_only_the_eye_measures():
    face = still("obama.jpg")
    landmarks = np.repeat(face["landmarks"], 3, axis=0)
    size = dict(frame_width=np.repeat(face["width"], 3), frame_height=np.repeat(face["height"], 3))
    confidence = np.array([[[0.1, 0.0]] * 2, [[2.0, 0.0], [0.1, 0.0]], [[np.nan] * 2] * 2])
    plain = symmetry_features(landmarks, **size)
    gated = symmetry_features(landmarks, **size, lid_confidence=confidence)
    assert gated.columns == [*COLUMNS, EYE_GATE_COLUMN]
    assert gated[EYE_GATE_COLUMN].to_list() == [None, LID_MARGIN_AMBIGUOUS, None]
    for column in COLUMNS:
        expected = plain[column].to_list()
        if column in GATED:
            expected[1] = None
        assert gated[column].to_list() == expected, column
    # Without confidence nothing changes and no reason column appears.
    assert plain.columns == list(COLUMNS)
    # The per-media summary skips the text column and carries the nulls.
    frames = gated.with_columns(
        pl.Series("media_id", ["a", "b", "c"]), pl.lit(0).alias("frame_index")
    )
    summary = summarise_media(frames)
    assert summary["eye_opening_diff_mm"].is_null().to_list() == [False, True, False]
    assert EYE_GATE_COLUMN not in summary.columns


def test_feature_dictionary_documents_the_reason_column():
    row = feature_dictionary().filter(pl.col("name") == EYE_GATE_COLUMN).row(0, named=True)
    assert (
        LID_MARGIN_AMBIGUOUS in row["formula"]
        and f"{LID_MARGIN_MAX_COMPETITOR:g}" in row["formula"]
    )
    assert row["table"] == "symmetry_features"
