"""Splitting the landmark pass into chunks of media, and joining their tables back."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from facesym_pipeline.lib.face.chunks import (
    analysed_media,
    chunk_key,
    join_chunks,
    plan_chunks,
    split_media,
)
from facesym_pipeline.lib.face.landmark_table import FACE_LANDMARKS_SCHEMA


def _inventory(statuses: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "dataset": ["d"] * len(statuses),
            "media_id": list(statuses),
            "status": list(statuses.values()),
        },
        schema={"dataset": pl.String, "media_id": pl.String, "status": pl.String},
    )


def _frames(rows: list[tuple[str, int]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "media_id": [m for m, _ in rows],
            "frame_index": [i for _, i in rows],
            "t_s": [i / 5 for _, i in rows],
        },
        schema={"media_id": pl.String, "frame_index": pl.Int64, "t_s": pl.Float64},
    )


def test_split_respects_the_size_and_keeps_sorted_runs():
    chunks = split_media(["e", "a", "d", "c", "b"], 2)
    assert chunks == [["a", "b"], ["c", "d"], ["e"]]
    assert split_media(["b", "a"], 500) == [["a", "b"]]
    assert split_media(["b", "a", "c"], 1) == [["a"], ["b"], ["c"]]


def test_no_media_is_one_empty_chunk():
    assert split_media([], 3) == [[]]
    (only,) = plan_chunks(_inventory({}), _frames([]), 3)
    assert only[0] == "c0000" and only[1].height == 0
    assert only[1].schema == _frames([]).schema


def test_size_below_one_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        split_media(["a"], 0)


@given(
    media=st.lists(st.text(alphabet="0123456789abcdef", min_size=1, max_size=6), max_size=40),
    size=st.integers(min_value=1, max_value=12),
)
def test_every_media_in_exactly_one_chunk_and_deterministic(media, size):
    chunks = split_media(media, size)
    flat = [m for chunk in chunks for m in chunk]
    assert flat == sorted(set(media))  # each once, in media_id order across chunks
    assert all(1 <= len(chunk) <= size for chunk in chunks) or chunks == [[]]
    assert len(chunks) == max(1, -(-len(set(media)) // size))
    assert split_media(list(reversed(media)), size) == chunks  # input order does not matter


def test_plan_keeps_analysed_media_and_their_frames_in_order():
    inventory = _inventory({"m3": "ok", "m1": "ok", "m2": "rejected", "m4": "ok", "m5": "ok"})
    # m2 is rejected, m5 has no sampled frame, x9 is not in the inventory: none is analysed.
    frames = _frames([("m3", 4), ("m1", 2), ("m3", 1), ("m2", 0), ("m4", 0), ("m1", 0), ("x9", 0)])
    assert analysed_media(inventory, frames) == ["m1", "m3", "m4"]

    plan = plan_chunks(inventory, frames, 2)
    assert [key for key, _ in plan] == ["c0000", "c0001"]
    first, second = (chunk for _, chunk in plan)
    # A chunk's frames keep the order they have in sampled_frames.
    assert first.rows() == [("m3", 4, 0.8), ("m1", 2, 0.4), ("m3", 1, 0.2), ("m1", 0, 0.0)]
    assert second.rows() == [("m4", 0, 0.0)]
    assert plan_chunks(inventory, frames.reverse(), 2)[1][1].equals(second)

    # One media per chunk: every frame of an analysed media in exactly one chunk.
    single = plan_chunks(inventory, frames, 1)
    assert [chunk["media_id"].unique().to_list() for _, chunk in single] == [["m1"], ["m3"], ["m4"]]
    analysed = frames.filter(pl.col("media_id").is_in(["m1", "m3", "m4"]))
    together = pl.concat([chunk for _, chunk in single])
    assert together.sort("media_id", "frame_index").equals(analysed.sort("media_id", "frame_index"))


def test_chunk_keys_are_stable_names():
    assert [chunk_key(i) for i in (0, 7, 123)] == ["c0000", "c0007", "c0123"]


def _landmark_rows(rows: list[tuple[str, int]]) -> pl.DataFrame:
    base = pl.DataFrame(
        {"media_id": [m for m, _ in rows], "frame_index": [i for _, i in rows]},
        schema={"media_id": pl.String, "frame_index": pl.Int64},
    )
    empty = pl.DataFrame(schema=FACE_LANDMARKS_SCHEMA)
    return pl.concat([empty, base], how="diagonal").select(list(FACE_LANDMARKS_SCHEMA))


def test_join_restores_the_unsplit_row_order_whatever_the_chunk_order():
    unsplit = _landmark_rows([("a", 0), ("a", 3), ("b", 1), ("c", 0), ("c", 2)])
    chunks = [unsplit.slice(3, 2), unsplit.slice(0, 2), unsplit.slice(2, 1)]
    assert join_chunks(chunks).equals(unsplit)
    assert join_chunks(list(reversed(chunks))).equals(unsplit)


def test_join_of_nothing_is_the_empty_table_with_its_schema():
    assert join_chunks([]).schema == pl.Schema(FACE_LANDMARKS_SCHEMA)
    assert join_chunks([pl.DataFrame(schema=FACE_LANDMARKS_SCHEMA)]).height == 0
