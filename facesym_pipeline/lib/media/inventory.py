"""The media inventory of one dataset folder: every file on disk gets exactly one row,
either usable (`ok`) or `rejected` with a specific reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from facesym_pipeline.lib.media.decode import (
    IGNORED_NAMES,
    MediaError,
    file_is_symlink_outside,
    media_kind_from_extension,
    probe,
)
from facesym_pipeline.lib.media.labels import read_labels_csv, resolve_label
from facesym_pipeline.lib.store.fingerprints import HashCache, list_files


@dataclass
class InventoryRow:
    dataset: str
    media_id: str | None
    relpath: str
    kind: str  # image | video | metadata | unknown
    size_bytes: int | None
    label: int | None
    label_source: str | None  # labels.csv | folder | None
    subject_id: str | None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    n_frames: int | None = None
    duration_s: float | None = None
    phash: str | None = None
    status: str = "ok"  # ok | rejected
    reason: str | None = None


INVENTORY_SCHEMA = {
    "dataset": pl.String,
    "media_id": pl.String,
    "relpath": pl.String,
    "kind": pl.String,
    "size_bytes": pl.Int64,
    "label": pl.Int8,
    "label_source": pl.String,
    "subject_id": pl.String,
    "width": pl.Int32,
    "height": pl.Int32,
    "fps": pl.Float64,
    "n_frames": pl.Int64,
    "duration_s": pl.Float64,
    "phash": pl.String,
    "status": pl.String,
    "reason": pl.String,
}


def scan_dataset(dataset: str, folder: Path, hash_cache: HashCache | None = None) -> pl.DataFrame:
    folder = folder.resolve()
    hash_cache = hash_cache or HashCache()
    labels = read_labels_csv(folder)
    rows: list[InventoryRow] = []
    seen: dict[str, str] = {}
    for path in list_files(folder):
        relpath = path.relative_to(folder).as_posix()
        rows.append(_inventory_row(dataset, folder, path, relpath, labels, hash_cache, seen))
    hash_cache.save()
    return pl.DataFrame([asdict(r) for r in rows], schema=INVENTORY_SCHEMA)


def inventory_for_file(path: Path, dataset: str = "adhoc") -> pl.DataFrame:
    """The one-row inventory of a single file, judged exactly as in a dataset scan."""
    path = Path(path)
    row = _inventory_row(dataset, path.parent.resolve(), path, path.name, {}, HashCache(), {})
    return pl.DataFrame([asdict(row)], schema=INVENTORY_SCHEMA)


def _inventory_row(dataset, folder, path, relpath, labels, hash_cache, seen) -> InventoryRow:
    entry = labels.get(relpath, {})
    label, label_source = resolve_label(relpath, entry)
    row = InventoryRow(
        dataset=dataset,
        media_id=None,
        relpath=relpath,
        kind=media_kind_from_extension(path) or "unknown",
        size_bytes=None,
        label=label,
        label_source=label_source,
        subject_id=(entry.get("subject_id") or None) if entry else None,
    )
    if path.name.lower() in IGNORED_NAMES:
        row.kind, row.label, row.label_source = "metadata", None, None
    if file_is_symlink_outside(path, folder):
        return _reject(row, "symlink_outside_dataset")
    if not path.is_file():
        return _reject(row, "not_a_regular_file")
    try:
        row.size_bytes = path.stat().st_size
        row.media_id = hash_cache.sha256(path)
    except OSError as exc:
        return _reject(row, f"unreadable: {exc.strerror}")
    if row.kind == "metadata":
        return row
    if row.media_id in seen:
        return _reject(row, f"duplicate_content_of: {seen[row.media_id]}")
    seen[row.media_id] = relpath
    try:
        info = probe(path)
    except MediaError as exc:
        return _reject(row, exc.reason)
    row.width, row.height = info.width, info.height
    row.fps, row.n_frames, row.duration_s = info.fps, info.n_frames, info.duration_s
    row.phash = info.phash
    return row


def _reject(row: InventoryRow, reason: str) -> InventoryRow:
    row.status, row.reason = "rejected", reason
    return row


MEDIA_KINDS = ("image", "video")


def usable_media_count(inventory: pl.DataFrame) -> int:
    """Images and videos that can be analysed. `labels.csv`, READMEs and other metadata
    files are `ok` too (accounted for, nothing wrong with them) but are not media."""
    usable = (pl.col("status") == "ok") & pl.col("kind").is_in(MEDIA_KINDS)
    return int(inventory.select(usable.sum()).item() or 0)


def rejection_counts(inventory: pl.DataFrame) -> dict[str, int]:
    rejected = inventory.filter(pl.col("status") == "rejected")
    # "duplicate_content_of: a.jpg" counts under its code, not per file.
    codes = rejected.get_column("reason").str.split(":").list.first()
    return dict(sorted(codes.value_counts().iter_rows()))
