"""What watching data/ finds: content fingerprints of the dataset folders compared with the
ones last recorded, naming the new and the changed datasets and the folders left out."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from facesym_pipeline.lib.paths import dataset_keys
from facesym_pipeline.lib.store.fingerprints import HashCache, dataset_fingerprint


@dataclass
class WatchPlan:
    new: list[str] = field(default_factory=list)  # folders not yet registered as partitions
    changed: list[str] = field(default_factory=list)  # content differs from what was recorded
    invalid: list[str] = field(default_factory=list)  # folders whose name gives no valid key
    fingerprints: dict[str, str] = field(default_factory=dict)

    @property
    def to_observe(self) -> list[str]:
        return sorted(set(self.new) | set(self.changed))


def current_fingerprints(root: Path, cache: HashCache) -> tuple[dict[str, str], list[str]]:
    folders, invalid = dataset_keys(root)
    found = {key: dataset_fingerprint(folder, cache) for key, folder in folders.items()}
    cache.save()
    return found, invalid


def plan(
    recorded: dict[str, str | None],
    current: dict[str, str],
    known_partitions: set[str],
    invalid=(),
) -> WatchPlan:
    """New folders, and datasets whose content differs from the fingerprint last recorded
    for them (None: never recorded)."""
    result = WatchPlan(invalid=list(invalid), fingerprints=dict(current))
    for key, fingerprint in sorted(current.items()):
        if key not in known_partitions:
            result.new.append(key)
        elif recorded.get(key) != fingerprint:
            result.changed.append(key)
    return result
