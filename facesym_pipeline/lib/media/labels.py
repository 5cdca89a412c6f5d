"""Every rule that gives a file its class label: the dataset's `labels.csv` (column `file`,
the path relative to the dataset folder, and `label`) when it names the file, else the
names of the folders around it, else none."""

from __future__ import annotations

import csv
import re
from pathlib import Path, PurePosixPath

import polars as pl

LABELS_FILE = "labels.csv"

_NO_STROKE = re.compile(r"^(no[_ -]?stroke|non.*stroke)", re.IGNORECASE)
_STROKE = re.compile(r"^stroke", re.IGNORECASE)


def label_from_folder_name(name: str) -> int | None:
    """`noStroke_data`, `no_stroke`, `non-acute stroke` -> 0; `stroke_data` -> 1; else None."""
    if _NO_STROKE.match(name):
        return 0
    if _STROKE.match(name):
        return 1
    return None


def label_from_relpath(relpath: str) -> int | None:
    """The label of the nearest enclosing folder whose name carries one."""
    for part in reversed(PurePosixPath(relpath).parts[:-1]):
        label = label_from_folder_name(part)
        if label is not None:
            return label
    return None


def read_labels_csv(folder: Path) -> dict[str, dict[str, str]]:
    """`labels.csv` rows keyed by posix relative path (column `file`), if the file exists."""
    path = folder / LABELS_FILE
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return {Path(r["file"]).as_posix(): r for r in rows if r.get("file")}


def read_labels_table(folder: Path) -> pl.DataFrame | None:
    """The whole `labels.csv` of a dataset as a table (None when there is none)."""
    path = folder / LABELS_FILE
    return pl.read_csv(path, infer_schema_length=10_000) if path.is_file() else None


def parse_label(value: str | None) -> int | None:
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip().lower()
    if text in {"1", "stroke", "true", "yes"}:
        return 1
    if text in {"0", "nostroke", "no_stroke", "false", "no"}:
        return 0
    return None


def resolve_label(relpath: str, entry: dict[str, str]) -> tuple[int | None, str | None]:
    """(label, where it came from: "labels.csv" | "folder" | None) of the file at `relpath`;
    `entry` is its `labels.csv` row ({} when the file has none)."""
    label = parse_label(entry.get("label")) if entry else None
    if label is not None:
        return label, "labels.csv"
    label = label_from_relpath(relpath)
    return label, "folder" if label is not None else None
