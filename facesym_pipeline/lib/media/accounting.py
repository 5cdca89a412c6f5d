"""Proof that every input file is accounted for in the inventory."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from facesym_pipeline.lib.store.fingerprints import list_files


def unaccounted_files(folder: Path, inventory: pl.DataFrame) -> dict[str, list[str]]:
    """Files missing from the inventory, listed twice, rejected without a reason, or in
    the inventory but no longer on disk. All lists empty means everything is accounted for."""
    on_disk = {p.relative_to(folder).as_posix() for p in list_files(folder)}
    relpaths = inventory["relpath"].to_list()
    duplicates = sorted({r for r in relpaths if relpaths.count(r) > 1})
    no_reason = inventory.filter((pl.col("status") == "rejected") & pl.col("reason").is_null())[
        "relpath"
    ].to_list()
    bad_status = inventory.filter(~pl.col("status").is_in(["ok", "rejected"]))["relpath"].to_list()
    return {
        "missing": sorted(on_disk - set(relpaths)),
        "listed_twice": duplicates,
        "rejected_without_reason": sorted(no_reason),
        "unknown_status": sorted(bad_status),
        "not_on_disk": sorted(set(relpaths) - on_disk),
    }
