"""Shared fixtures: the real sample faces, the normative population and the real landmark
model (helpers that tests import live in `helpers.py`, not here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from facesym_pipeline.demo.population import fetch_population, population_dir
from facesym_pipeline.demo.samples import fetch_samples
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model


@pytest.fixture(scope="session")
def samples() -> dict[str, Path]:
    """Every real sample, fetched once into the user cache (`make test` fills it first)."""
    return {p.name: p for p in fetch_samples()}


@pytest.fixture(scope="session")
def model_path() -> Path:
    return resolve_model()


@pytest.fixture(scope="session")
def population_cache() -> Path:
    """The normative population, fetched once into the user cache (`make test` fills it)."""
    fetch_population()
    return population_dir()
