from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest

from facesym_pipeline.defs.ingest.sensors import dataset_sensor
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.demo.samples import sample_path


def _tick(instance, data: Path, wh: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"warehouse": WarehouseResource(data_dir=str(data), warehouse_dir=str(wh))},
    )
    return dataset_sensor(context)


def test_sensor_registers_new_dataset_and_reacts_to_content_only(tmp_path: Path, samples):
    data, wh = tmp_path / "data", tmp_path / "wh"
    (data / "kaggle" / "2" / "stroke_data").mkdir(parents=True)
    (data / "kaggle" / "2" / "noStroke_data").mkdir(parents=True)
    shutil.copy(sample_path("obama.jpg"), data / "kaggle" / "2" / "stroke_data" / "a.jpg")
    instance = dg.DagsterInstance.ephemeral()

    first = _tick(instance, data, wh, None)
    assert [r.partition_key for r in first.run_requests] == ["kaggle-2"]
    (add,) = first.dynamic_partitions_requests
    assert add.partition_keys == ["kaggle-2"] and add.partitions_def_name == "dataset"
    instance.add_dynamic_partitions("dataset", ["kaggle-2"])

    # Nothing changed: no run.
    assert _tick(instance, data, wh, first.cursor).run_requests == []

    # Touching a file (new mtime, same bytes) is not a change of content.
    target = data / "kaggle" / "2" / "stroke_data" / "a.jpg"
    target.touch()
    assert _tick(instance, data, wh, first.cursor).run_requests == []

    # New content in a known dataset: one run, with a run key tied to the content.
    shutil.copy(sample_path("biden.jpg"), data / "kaggle" / "2" / "noStroke_data" / "b.jpg")
    changed = _tick(instance, data, wh, first.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["kaggle-2"]
    assert changed.run_requests[0].run_key != first.run_requests[0].run_key
    assert changed.dynamic_partitions_requests == []


def test_sensor_skips_folders_without_a_valid_key(tmp_path: Path):
    data = tmp_path / "data"
    (data / "ééé").mkdir(parents=True)
    (data / "ééé" / "a.jpg").write_bytes(b"x")
    result = _tick(dg.DagsterInstance.ephemeral(), data, tmp_path / "wh", None)
    assert result.run_requests == []


def test_definitions_load_with_jobs_sensor_and_checks():
    from facesym_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"media_inventory", "sampled_frames", "face_landmarks", "frame_quality"} <= keys
    assert "warehouse_catalog" in keys
    assert defs.resolve_job_def("dataset_job").partitions_def.name == "dataset"
    assert defs.resolve_sensor_def("dataset_sensor") is not None
    assert defs.resolve_schedule_def("nightly_models").job_name == "warehouse_job"
    check_names = {k.name for k in graph.asset_check_keys}
    assert "every_file_accounted_for" in check_names
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.group_name and node.group_name != "default", key
        assert (node.description or "").strip(), f"{key} has no description"


@pytest.mark.slow
def test_sensor_does_not_rerun_content_already_materialised(tmp_path: Path, samples):
    """After `facesym run` (or `make demo`), starting the UI must not redo the same work."""
    from facesym_pipeline.defs.ingest.assets import media_inventory
    from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition

    data, wh = tmp_path / "data", tmp_path / "wh"
    (data / "faces" / "stroke_data").mkdir(parents=True)
    shutil.copy(sample_path("obama.jpg"), data / "faces" / "stroke_data" / "a.jpg")
    instance = dg.DagsterInstance.ephemeral()
    assert materialize_partition([media_inventory], "faces", data, wh, instance=instance).success
    assert _tick(instance, data, wh, None).run_requests == []
    shutil.copy(sample_path("biden.jpg"), data / "faces" / "stroke_data" / "b.jpg")
    assert [r.partition_key for r in _tick(instance, data, wh, None).run_requests] == ["faces"]
