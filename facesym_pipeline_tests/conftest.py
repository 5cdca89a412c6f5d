"""Shared fixtures: the real sample faces, the real landmark model, small real datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facesym_pipeline.lib.model_file import resolve_model
from facesym_pipeline.lib.samples import fetch_samples, sample_path


@pytest.fixture(scope="session")
def samples() -> dict[str, Path]:
    """Every real sample, fetched once into the user cache (`make test` fills it first)."""
    return {p.name: p for p in fetch_samples()}


@pytest.fixture(scope="session")
def model_path() -> Path:
    return resolve_model()


def make_small_dataset(root: Path, name: str = "mini") -> Path:
    """A Kaggle-shaped dataset of real faces: stroke_data/, noStroke_data/, one video."""
    folder = root / name
    (folder / "stroke_data").mkdir(parents=True)
    (folder / "noStroke_data").mkdir(parents=True)
    shutil.copy(sample_path("obama.jpg"), folder / "stroke_data" / "obama.jpg")
    shutil.copy(sample_path("biden.jpg"), folder / "noStroke_data" / "biden.jpg")
    shutil.copy(sample_path("single_face.mp4"), folder / "single_face.mp4")
    return folder
