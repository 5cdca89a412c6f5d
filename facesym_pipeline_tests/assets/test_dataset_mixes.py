"""`facesym run` on datasets that are not the demo: images only in the seed's Kaggle layout,
and unlabelled videos. Each must end with exit 0 and an analyst catalog, and the assets
with nothing to learn from must say why in their metadata instead of failing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.store.catalog import table_counts

pytestmark = pytest.mark.slow  # `facesym run` in a subprocess

KAGGLE_IMAGES = {
    "stroke_data": ("obama.jpg", "0-f1-su-ph.jpg"),
    "noStroke_data": ("biden.jpg", "single_face.jpg", "45-m7-di-ph.jpg"),
}
UNLABELLED_VIDEOS = ("single_face.mp4", "face_noface.mov")


def _project(root: Path, monkeypatch) -> Path:
    """A fresh project root: its own data/, warehouse/ and Dagster instance."""
    monkeypatch.setenv("FACESYM_ROOT", str(root))
    monkeypatch.setenv("FACESYM_DATA", str(root / "data"))
    monkeypatch.setenv("FACESYM_WAREHOUSE", str(root / "warehouse"))
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster_home"))
    return root / "data"


def _facesym_run() -> subprocess.CompletedProcess:
    """The command a user types, in its own process: resources read the environment once."""
    return subprocess.run(
        [sys.executable, "-m", "facesym_pipeline.apps.cli", "run"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def _latest_metadata(asset: str) -> dict:
    instance = dg.DagsterInstance.get()
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None, f"{asset} was never materialised"
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.fixture
def images_only(tmp_path, monkeypatch, samples) -> Path:
    data = _project(tmp_path, monkeypatch)
    for folder, names in KAGGLE_IMAGES.items():
        (data / "kaggle" / "2" / folder).mkdir(parents=True)
        for name in names:
            shutil.copy(sample_path(name), data / "kaggle" / "2" / folder / name)
    return tmp_path


@pytest.fixture
def unlabelled_videos(tmp_path, monkeypatch, samples) -> Path:
    data = _project(tmp_path, monkeypatch)
    (data / "clinic").mkdir(parents=True)
    for name in UNLABELLED_VIDEOS:
        shutil.copy(sample_path(name), data / "clinic" / name)
    return tmp_path


def test_a_dataset_of_images_only_gets_its_catalog(images_only):
    done = _facesym_run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    views = table_counts(images_only / "warehouse" / "facesym.duckdb")
    assert views["media_inventory"] == 5
    assert views["symmetry_features"] >= 4  # every face of the five is analysable
    assert views["model_metrics"] > 0  # labelled stills of both classes: a classifier
    assert views["temporal_trends"] == 0  # no video: an empty table, not a missing one
    assert views["sequence_model_comparison"] == 0
    skipped = _latest_metadata("sequence_model")["skipped"]
    assert "no video has a temporal series" in skipped


def test_a_dataset_of_unlabelled_videos_gets_its_catalog(unlabelled_videos):
    done = _facesym_run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    views = table_counts(unlabelled_videos / "warehouse" / "facesym.duckdb")
    assert views["media_inventory"] == 2
    assert views["temporal_trends"] >= 1  # the video with a face has its trends
    assert "model_metrics" not in views  # nothing labelled: no classifier was trained
    assert "carries a label" in _latest_metadata("asymmetry_classifier")["skipped"]
    assert "no labelled video" in _latest_metadata("sequence_model")["skipped"]


def _stale(key: str) -> dict[str, str]:
    """What the UI would show as not fresh for partition `key` (and the cross-dataset
    assets): Dagster's own stale-status resolver over the project's asset graph."""
    from dagster._core.definitions.data_version import StaleStatus
    from dagster._utils.test.data_versions import get_stale_status_resolver

    from facesym_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    resolver = get_stale_status_resolver(dg.DagsterInstance.get(), list(defs.assets))
    found = {}
    for asset in graph.materializable_asset_keys:
        partition = key if graph.get(asset).partitions_def is not None else None
        status = resolver.get_status(asset, partition)
        if status != StaleStatus.FRESH:
            found[asset.to_user_string()] = status.value
    return found


def test_run_does_what_dagster_calls_stale_and_ignores_bad_folders(images_only):
    from facesym_pipeline.defs.ingest.observe import register_and_observe
    from facesym_pipeline.lib.store.fingerprints import HashCache

    data = images_only / "data"
    (data / "!!!").mkdir()
    shutil.copy(sample_path("biden.jpg"), data / "!!!" / "x.jpg")
    first = _facesym_run()
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "left out" in first.stdout and "!!!" in first.stdout
    assert _stale("kaggle-2") == {}

    again = _facesym_run()
    assert again.returncode == 0 and "everything is up to date" in again.stdout, again.stdout

    # New content: Dagster marks the dataset's inventory stale (what it read changed), and
    # `facesym run` redoes it and, by the same conditions, everything downstream.
    shutil.copy(sample_path("single_face.jpg"), data / "kaggle" / "2" / "stroke_data" / "n.jpg")
    register_and_observe(dg.DagsterInstance.get(), data, HashCache())
    stale = _stale("kaggle-2")
    assert stale == {"media_inventory": "STALE"}, stale
    third = _facesym_run()
    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert "[kaggle-2]" in third.stdout and "media_inventory" in third.stdout
    assert "temporal_trends" in third.stdout and "warehouse_catalog" in third.stdout
    assert _stale("kaggle-2") == {}


def test_a_single_file_gets_its_catalog(tmp_path, monkeypatch, samples):
    data = _project(tmp_path, monkeypatch)
    (data / "one").mkdir(parents=True)
    shutil.copy(sample_path("obama.jpg"), data / "one" / "obama.jpg")
    done = _facesym_run()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    views = table_counts(tmp_path / "warehouse" / "facesym.duckdb")
    assert views["symmetry_features"] == 1
    assert "no labelled still" in _latest_metadata("region_crops")["skipped"]
