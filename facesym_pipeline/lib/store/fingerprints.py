"""Content fingerprints of dataset folders: what changed is decided by file content, not by
clocks. A small cache keyed by (path, size, mtime, inode) avoids re-hashing unchanged files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from facesym_pipeline.lib.store.hashing import sha256_file


class HashCache:
    """sha256 of files, remembered by their stat signature between calls and processes."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._entries: dict[str, list] = {}
        if path and path.is_file():
            try:
                self._entries = json.loads(path.read_text())
            except (OSError, ValueError):
                self._entries = {}

    def sha256(self, file: Path) -> str:
        stat = file.stat()
        signature = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        key = str(file)
        cached = self._entries.get(key)
        if cached and cached[:3] == signature:
            return cached[3]
        digest = sha256_file(file)
        self._entries[key] = [*signature, digest]
        return digest

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._entries))
        os.replace(tmp, self.path)


def list_files(folder: Path) -> list[Path]:
    """Every file under `folder` (links included, not followed into folders), sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        out.extend(base / name for name in filenames)
        # A link to a folder is listed as a file-like entry so it is accounted for.
        out.extend(base / name for name in dirnames if (base / name).is_symlink())
    return sorted(out)


def dataset_fingerprint(folder: Path, cache: HashCache | None = None) -> str:
    """sha256 over (relative path, content hash) of every readable file in the folder."""
    cache = cache or HashCache()
    digest = hashlib.sha256()
    for file in list_files(folder):
        rel = file.relative_to(folder).as_posix()
        try:
            content = cache.sha256(file) if file.is_file() else "not-a-file"
        except OSError as exc:
            content = f"unreadable:{exc.errno}"
        digest.update(f"{rel}\0{content}\n".encode())
    return digest.hexdigest()
