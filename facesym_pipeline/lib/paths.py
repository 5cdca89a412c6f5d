"""Where the project keeps its data, and validation of names that become paths or keys."""

from __future__ import annotations

import os
import re
from pathlib import Path

import platformdirs

PARTITION_KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_MAX_KEY_LEN = 64


class InvalidPartitionKey(ValueError):
    """A dataset key that is not a safe slug."""


def project_root() -> Path:
    """The repository root: FACESYM_ROOT if set, else the checkout holding this package."""
    env = os.environ.get("FACESYM_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "pyproject.toml").exists():
        return here
    return Path.cwd().resolve()


def data_root() -> Path:
    return Path(os.environ.get("FACESYM_DATA", project_root() / "data")).resolve()


def warehouse_root() -> Path:
    return Path(os.environ.get("FACESYM_WAREHOUSE", project_root() / "warehouse")).resolve()


def lake_root(warehouse: Path) -> str:
    """The Parquet lake: FACESYM_LAKE_URI (a folder or `s3://bucket/prefix`), else
    `<warehouse>/lake`."""
    return os.environ.get("FACESYM_LAKE_URI") or str(Path(warehouse) / "lake")


def cache_root() -> Path:
    """User cache for downloaded samples and the landmark model (survives `git clean`)."""
    env = os.environ.get("FACESYM_CACHE")
    root = Path(env) if env else Path(platformdirs.user_cache_dir("facesym"))
    root.mkdir(parents=True, exist_ok=True)
    return root


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", project_root() / ".dagster_home")).resolve()


def validate_partition_key(key: str) -> str:
    if not isinstance(key, str) or len(key) > _MAX_KEY_LEN or not PARTITION_KEY_RE.match(key):
        raise InvalidPartitionKey(
            f"invalid dataset key {key!r}: expected [a-z0-9][a-z0-9_-]* (at most {_MAX_KEY_LEN} chars)"
        )
    return key


def slugify_dataset(relpath: str | Path) -> str:
    """`kaggle/2` -> `kaggle-2`; `Stroke Faces` -> `stroke-faces`."""
    text = str(relpath).strip().strip("/").lower()
    text = re.sub(r"[/\\]+", "-", text)
    text = re.sub(r"[^a-z0-9_-]+", "-", text)
    text = re.sub(r"-{2,}", "-", text).strip("-_")
    return validate_partition_key(text)


def dataset_dir(key: str, root: Path | None = None) -> Path:
    """The folder under `data/` whose slug is `key` (the slug is not always reversible, so search)."""
    validate_partition_key(key)
    root = (root or data_root()).resolve()
    folder = dataset_keys(root)[0].get(key)
    if folder is None:
        raise FileNotFoundError(f"no dataset folder under {root} has the key {key!r}")
    return folder


def dataset_keys(root: Path | None = None) -> tuple[dict[str, Path], list[str]]:
    """Every dataset folder by its partition key, and the folders (relative paths) whose
    name gives no valid key: those are reported and left out, never fatal to the others."""
    root = (root or data_root()).resolve()
    valid: dict[str, Path] = {}
    invalid: list[str] = []
    for folder in dataset_folders(root):
        rel = folder.relative_to(root).as_posix()
        try:
            key = slugify_dataset(rel)
        except InvalidPartitionKey:
            invalid.append(rel)
            continue
        if key in valid:  # two folders, one slug: neither may silently shadow the other
            invalid.append(rel)
        else:
            valid[key] = folder
    return valid, invalid


def dataset_folders(root: Path | None = None) -> list[Path]:
    """Dataset folders: the immediate sub-folders of `data/`, or one level deeper when a
    sub-folder only groups datasets (it holds folders and no media at its top, and none of
    its folders look like class folders)."""
    root = (root or data_root()).resolve()
    if not root.is_dir():
        return []
    found: list[Path] = []
    for child in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if _is_grouping_folder(child):
            found.extend(
                sorted(p for p in child.iterdir() if p.is_dir() and not p.name.startswith("."))
            )
        else:
            found.append(child)
    return found


def _is_grouping_folder(folder: Path) -> bool:
    from facesym_pipeline.lib.media.labels import label_from_folder_name

    entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if not entries or any(p.is_file() for p in entries):
        return False
    return all(label_from_folder_name(p.name) is None for p in entries)


def resolve_inside(base: Path, relpath: str) -> Path:
    """Join `relpath` to `base`, refusing anything that escapes it (.., absolute, links out)."""
    base = base.resolve()
    candidate = (base / relpath).resolve()
    if candidate != base and base not in candidate.parents:
        raise ValueError(f"path {relpath!r} escapes {base}")
    return candidate
