"""Splitting one dataset's landmark pass into chunks of media, and joining the chunks'
tables back into the table the unsplit pass writes.

A chunk is the sampled frames of a run of media, in media_id order; each runs as a pass of
its own (on another worker, possibly another machine). The pass orders its rows by
(media_id, frame_index) and a media's frames never span two chunks, so the joined chunks,
put in that order again, are the unsplit pass's table row for row.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from facesym_pipeline.lib.face.landmark_table import FACE_LANDMARKS_SCHEMA

# The order the landmark pass writes its rows in (landmark_table.landmark_rows).
ROW_ORDER = ("media_id", "frame_index")
_CHUNK = "__chunk__"


def chunk_key(index: int) -> str:
    """The name of the `index`-th chunk (c0000, c0001, ...): stable, and safe in step keys
    and object names."""
    return f"c{index:04d}"


def analysed_media(inventory: pl.DataFrame, frames: pl.DataFrame) -> list[str]:
    """The media the pass analyses (usable in the inventory, with sampled frames), sorted
    by media_id."""
    usable = set(inventory.filter(pl.col("status") == "ok")["media_id"].to_list())
    return sorted(usable.intersection(frames["media_id"].to_list()))


def split_media(media_ids: Sequence[str], media_per_chunk: int) -> list[list[str]]:
    """Consecutive runs of at most `media_per_chunk` media, in sorted order, each media
    once. No media still gives one (empty) chunk: the pass then writes its empty table."""
    if media_per_chunk < 1:
        raise ValueError(f"media_per_chunk must be at least 1, not {media_per_chunk}")
    ordered = sorted(set(media_ids))
    chunks = [
        ordered[start : start + media_per_chunk]
        for start in range(0, len(ordered), media_per_chunk)
    ]
    return chunks or [[]]


def plan_chunks(
    inventory: pl.DataFrame, frames: pl.DataFrame, media_per_chunk: int
) -> list[tuple[str, pl.DataFrame]]:
    """(chunk key, the sampled frames of the chunk's media) per chunk. The frames keep
    their order in `frames`, so each media's frames reach the pass as in the unsplit one."""
    chunks = split_media(analysed_media(inventory, frames), media_per_chunk)
    index = {media_id: i for i, chunk in enumerate(chunks) for media_id in chunk}
    chunk_of = pl.col("media_id").replace_strict(index, default=None, return_dtype=pl.Int64)
    parts = (
        frames.with_columns(chunk_of.alias(_CHUNK))
        .filter(pl.col(_CHUNK).is_not_null())
        .partition_by(_CHUNK, as_dict=True, include_key=False, maintain_order=True)
    )
    return [(chunk_key(i), parts.get((i,), frames.clear())) for i in range(len(chunks))]


def join_chunks(tables: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The chunks' landmark tables as one, in the unsplit pass's row order."""
    if not tables:
        return pl.DataFrame(schema=FACE_LANDMARKS_SCHEMA)
    joined = pl.concat(tables, how="vertical")
    return joined.sort(*ROW_ORDER, maintain_order=True)
