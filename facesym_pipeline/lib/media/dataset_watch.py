"""What the dataset sensor should do: compare content fingerprints of dataset folders with
the ones it saw last (its cursor) and name the new and the changed datasets."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from facesym_pipeline.lib.paths import InvalidPartitionKey, dataset_folders, slugify_dataset
from facesym_pipeline.lib.store.fingerprints import HashCache, dataset_fingerprint


@dataclass
class WatchPlan:
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # folders whose name gives no valid key
    fingerprints: dict[str, str] = field(default_factory=dict)

    def cursor(self) -> str:
        return json.dumps(self.fingerprints, sort_keys=True)


def current_fingerprints(root: Path, cache: HashCache) -> tuple[dict[str, str], list[str]]:
    found: dict[str, str] = {}
    invalid: list[str] = []
    for folder in dataset_folders(root):
        rel = folder.relative_to(root).as_posix()
        try:
            key = slugify_dataset(rel)
        except InvalidPartitionKey:
            invalid.append(rel)
            continue
        found[key] = dataset_fingerprint(folder, cache)
    cache.save()
    return found, invalid


def plan(
    cursor: str | None, current: dict[str, str], known_partitions: set[str], invalid=()
) -> WatchPlan:
    seen = json.loads(cursor) if cursor else {}
    result = WatchPlan(invalid=list(invalid), fingerprints=dict(current))
    for key, fingerprint in sorted(current.items()):
        if key not in known_partitions:
            result.new.append(key)
        elif seen.get(key) != fingerprint:
            result.changed.append(key)
    return result
