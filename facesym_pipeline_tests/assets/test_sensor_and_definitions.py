from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from facesym_pipeline.defs.ingest.observe import DATA_VERSION_TAG, recorded_fingerprint
from facesym_pipeline.defs.ingest.sensors import dataset_sensor
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.demo.samples import sample_path


def _tick(instance, data: Path, wh: Path):
    context = dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": WarehouseResource(data_dir=str(data), warehouse_dir=str(wh))},
    )
    return dataset_sensor(context)


def _apply(instance, result: dg.SensorResult) -> None:
    """What the daemon does with a sensor result: add partitions, store observations."""
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    for event in result.asset_events:
        instance.report_runless_asset_event(event)


def test_sensor_registers_and_observes_content_only(tmp_path: Path, samples):
    data, wh = tmp_path / "data", tmp_path / "wh"
    (data / "kaggle" / "2" / "stroke_data").mkdir(parents=True)
    (data / "kaggle" / "2" / "noStroke_data").mkdir(parents=True)
    shutil.copy(sample_path("obama.jpg"), data / "kaggle" / "2" / "stroke_data" / "a.jpg")
    instance = dg.DagsterInstance.ephemeral()

    first = _tick(instance, data, wh)
    (add,) = first.dynamic_partitions_requests
    assert add.partition_keys == ["kaggle-2"] and add.partitions_def_name == "dataset"
    assert first.run_requests == []  # automation conditions launch the runs, not the sensor
    (seen,) = first.asset_events
    assert seen.asset_key == dg.AssetKey("dataset_files") and seen.partition == "kaggle-2"
    _apply(instance, first)
    assert recorded_fingerprint(instance, "kaggle-2") == seen.tags[DATA_VERSION_TAG]

    # Nothing changed, or a file touched (new mtime, same bytes): nothing observed.
    assert isinstance(_tick(instance, data, wh), dg.SkipReason)
    (data / "kaggle" / "2" / "stroke_data" / "a.jpg").touch()
    assert isinstance(_tick(instance, data, wh), dg.SkipReason)

    # New content in a known dataset: a new data version, no new partition.
    shutil.copy(sample_path("biden.jpg"), data / "kaggle" / "2" / "noStroke_data" / "b.jpg")
    changed = _tick(instance, data, wh)
    assert changed.dynamic_partitions_requests == []
    (event,) = changed.asset_events
    assert event.tags[DATA_VERSION_TAG] != seen.tags[DATA_VERSION_TAG]


def test_sensor_reports_folders_without_a_valid_key_and_keeps_the_others(tmp_path: Path, samples):
    data = tmp_path / "data"
    for bad in ("ééé", "!!!"):
        (data / bad).mkdir(parents=True)
        shutil.copy(sample_path("obama.jpg"), data / bad / "a.jpg")
    (data / "faces").mkdir()
    shutil.copy(sample_path("biden.jpg"), data / "faces" / "b.jpg")
    result = _tick(dg.DagsterInstance.ephemeral(), data, tmp_path / "wh")
    (add,) = result.dynamic_partitions_requests
    assert add.partition_keys == ["faces"]
    assert [e.partition for e in result.asset_events] == ["faces"]


def test_definitions_load_with_automation_sensors_and_checks():
    from facesym_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {"dataset_files", "media_inventory", "face_landmarks", "warehouse_catalog"} <= keys
    assert defs.resolve_job_def("dataset_job").partitions_def.name == "dataset"
    assert defs.resolve_sensor_def("dataset_sensor") is not None
    assert defs.resolve_sensor_def("automation_sensor") is not None
    assert not list(defs.schedules or []), "refreshing is a cron automation condition"
    check_names = {k.name for k in graph.asset_check_keys}
    assert "every_file_accounted_for" in check_names
    for key in graph.materializable_asset_keys:
        node = graph.get(key)
        assert node.group_name and node.group_name != "default", key
        assert (node.description or "").strip(), f"{key} has no description"
        assert node.automation_condition is not None, key
        assert node.code_version, key


def test_every_lake_table_is_a_declared_asset():
    """The catalog makes a view per lake table: each must be an asset the graph shows."""
    import re

    from facesym_pipeline.definitions import defs

    written = set()
    for path in Path("facesym_pipeline/defs").rglob("*.py"):
        text = path.read_text()
        written |= set(re.findall(r"lake\.write\(\s*\"([a-z_]+)\"", text))
        written |= {
            f"{kind}_history" for kind in re.findall(r"_train\(context, \"([a-z_]+)\"", text)
        }
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert written, "no lake writes found"
    assert written <= keys, f"lake tables that are not assets: {sorted(written - keys)}"


def test_table_metadata_describes_columns_with_units():
    import polars as pl

    from facesym_pipeline.defs.metadata import table_metadata

    frame = pl.DataFrame({"mouth_corner_height_diff_mm": [1.5], "media_id": ["m"]})
    columns = table_metadata(frame)["dagster/column_schema"].columns
    assert [c.name for c in columns] == ["mouth_corner_height_diff_mm", "media_id"]
    assert columns[0].description.startswith("[mm] ") and columns[0].type == "Float64"
    assert columns[1].description is None  # not a measure: no unit is invented
