"""Compare two lakes table by table: the same partitions, columns and rows, numbers equal
within a float tolerance. Used to show that a distributed run reproduces a local one.

Columns that measure the run rather than the data (wall-clock durations, creation times,
the device a network trained on) are left out of the comparison and named in the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from facesym_pipeline.lib.store.lake import Lake

# Properties of the run, not of the data: they differ between any two runs. A model file's
# sha256 is one of them: skops writes a zip archive whose entries carry the time of writing
# (the model's id, from its parameters and training data, is compared).
RUN_COLUMNS = frozenset({"created_at", "seconds", "device", "file_sha256"})


@dataclass
class LakeComparison:
    tables: int = 0
    partitions: int = 0
    rows: int = 0
    differences: list[str] = field(default_factory=list)
    ignored_columns: set[str] = field(default_factory=set)

    @property
    def matches(self) -> bool:
        return not self.differences


def _floats_equal(a: pl.Series, b: pl.Series, rtol: float, atol: float) -> bool:
    x = a.cast(pl.Float64).to_numpy()
    y = b.cast(pl.Float64).to_numpy()
    return bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))


def _in_row_order(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The rows sorted by every flat column, exact ones first: a table's rows are a set, and
    a join's output order may differ between processes (polars does not keep it unless
    asked), so two equal tables can list their rows in different orders."""
    flat = [c for c in columns if not frame.schema[c].is_nested() and c not in RUN_COLUMNS]
    exact = [c for c in flat if not frame.schema[c].is_float()]
    keys = exact + [c for c in flat if c not in exact]
    return frame.sort(keys, nulls_last=True, maintain_order=True) if keys else frame


def compare_frames(
    expected: pl.DataFrame, actual: pl.DataFrame, rtol: float = 1e-6, atol: float = 1e-9
) -> list[str]:
    """Differences between two versions of one partition, as sets of rows (empty when they
    agree)."""
    if set(expected.columns) != set(actual.columns):
        only_e = sorted(set(expected.columns) - set(actual.columns))
        only_a = sorted(set(actual.columns) - set(expected.columns))
        return [f"columns differ (only expected: {only_e}, only actual: {only_a})"]
    if expected.height != actual.height:
        return [f"{expected.height} rows expected, {actual.height} found"]
    expected = _in_row_order(expected, expected.columns)
    actual = _in_row_order(actual, expected.columns)
    differing = []
    for name in expected.columns:
        if name in RUN_COLUMNS:
            continue
        a, b = expected[name], actual[name]
        if a.dtype.is_numeric() and b.dtype.is_numeric():
            same = _floats_equal(a, b, rtol, atol)
        elif isinstance(a.dtype, pl.List | pl.Array) and a.dtype.inner.is_numeric():
            flat_a, flat_b = a.explode(), b.explode()
            same = flat_a.len() == flat_b.len() and _floats_equal(flat_a, flat_b, rtol, atol)
        else:
            same = a.equals(b, check_dtypes=False, check_names=False, null_equal=True)
        if not same:
            differing.append(name)
    if not differing:
        return []
    shown = ", ".join(differing[:6]) + (
        f" and {len(differing) - 6} more" if len(differing) > 6 else ""
    )
    return [f"{len(differing)} column(s) differ: {shown}"]


def compare_lakes(
    expected: Lake, actual: Lake, tables: list[str] | None = None, rtol=1e-6, atol=1e-9
) -> LakeComparison:
    """Every table of `expected` (or `tables`) against `actual`, partition by partition."""
    result = LakeComparison()
    names = tables if tables is not None else expected.tables()
    missing_tables = sorted(set(actual.tables()) - set(names)) if tables is None else []
    result.differences += [f"{t}: only in the second lake" for t in missing_tables]
    for table in names:
        result.tables += 1
        keys_e, keys_a = set(expected.partitions(table)), set(actual.partitions(table))
        if not keys_e:  # unpartitioned
            keys_e = keys_a = {None}
        for key in sorted(keys_e ^ keys_a, key=str):
            where = "first" if key in keys_e else "second"
            result.differences.append(f"{table}[{key}]: only in the {where} lake")
        for key in sorted(keys_e & keys_a, key=str):
            result.partitions += 1
            frame_e = expected.read_optional(table, key)
            frame_a = actual.read_optional(table, key)
            if frame_a is None or frame_e is None:
                result.differences.append(f"{table}[{key}]: missing")
                continue
            result.rows += frame_e.height
            result.ignored_columns |= RUN_COLUMNS & set(frame_e.columns)
            label = table if key is None else f"{table}[{key}]"
            result.differences += [
                f"{label}: {p}" for p in compare_frames(frame_e, frame_a, rtol, atol)
            ]
    return result
