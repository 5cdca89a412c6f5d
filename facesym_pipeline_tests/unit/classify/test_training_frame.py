"""The classifier's training table when there is nothing to train on yet."""

import polars as pl

from facesym_pipeline.lib.classify.training_data import training_frame
from facesym_pipeline.lib.classify.training_run import why_not_trainable


def test_an_empty_lake_is_a_reason_not_a_crash():
    # Lake.read_all of a table no dataset has written yet: no rows and no columns.
    data = training_frame(pl.DataFrame())
    assert data.is_empty()
    assert why_not_trainable(data) == "no usable media file carries a label"


def test_unlabelled_rows_are_left_out():
    features = pl.DataFrame(
        {"dataset": ["a", "a"], "relpath": ["x.jpg", "y.jpg"], "label": [None, None]},
        schema_overrides={"label": pl.String},
    )
    assert why_not_trainable(training_frame(features)) == "no usable media file carries a label"
