"""Class labels from a dataset's `labels.csv` or, failing that, from its folder names."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

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
