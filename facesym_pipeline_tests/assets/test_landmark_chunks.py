"""The landmark pass split into chunk steps: tables between steps as Parquet objects in the
lake's storage, and a split pass whose table is the unsplit one's."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from facesym_pipeline.defs.frames.assets import sampled_frames
from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.landmarks.resources import StepTablesIOManager, delete_step_tables
from facesym_pipeline.defs.landmarks.sensors import step_tables_sweep
from facesym_pipeline.defs.quality.checks import landmarks_complete_and_finite
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset
from facesym_pipeline.lib.face.landmark_table import FACE_LANDMARKS_SCHEMA
from facesym_pipeline.lib.face.landmarker_bundle import resolve_hand_model
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline.lib.store.step_objects import RETENTION_ENV, STEPS_PREFIX
from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition
from facesym_pipeline_tests.helpers import make_small_dataset

CHAIN = [media_inventory, sampled_frames, face_landmarks]
CHUNK_STEP = "face_landmarks.landmark_chunk["


def _chunking(media_per_chunk: int) -> dict:
    plan = {"plan_landmark_chunks": {"config": {"media_per_chunk": media_per_chunk}}}
    return {"ops": {"face_landmarks": {"ops": plan}}}


def _chunk_steps(result: dg.ExecuteInProcessResult) -> set[str]:
    return {
        event.step_key
        for event in result.all_events
        if event.is_step_success and event.step_key.startswith(CHUNK_STEP)
    }


def _handled_paths(result: dg.ExecuteInProcessResult) -> list[str]:
    return [
        event.event_specific_data.metadata["path"].value
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.HANDLED_OUTPUT
        and "path" in event.event_specific_data.metadata
    ]


def test_step_tables_round_trip_and_are_deleted_with_their_runs(tmp_path: Path):
    lake = Lake(tmp_path / "lake")
    manager = StepTablesIOManager(lake.store)
    instance = dg.DagsterInstance.ephemeral()
    frame = pl.DataFrame({"media_id": ["b", "a"], "frame_index": [3, 0]})
    # A dynamic output of the plan, and the output of a mapped step.
    planned = dg.build_output_context(
        run_id="run1", step_key="g.plan", name="result", mapping_key="c0001"
    )
    output = dg.build_output_context(run_id="run1", step_key="g.chunk[c0001]", name="result")
    manager.handle_output(planned, frame)
    manager.handle_output(output, frame.head(1))
    run1 = [
        f"{STEPS_PREFIX}/run1/g.chunk[c0001]/result.parquet",
        f"{STEPS_PREFIX}/run1/g.plan/result/c0001.parquet",
    ]
    assert lake.store.list(STEPS_PREFIX) == run1
    assert manager.load_input(dg.build_input_context(upstream_output=planned)).equals(frame)
    loaded = manager.load_input(dg.build_input_context(upstream_output=output))
    assert loaded.equals(frame.head(1))
    with pytest.raises(TypeError, match="not a DataFrame"):
        manager.handle_output(output, {"media_id": ["a"]})

    plain = dg.build_output_context(run_id="run2", step_key="g.plan", name="result")
    manager.handle_output(plain, frame)
    lake.write("kept_table", "d", frame)
    assert lake.tables() == ["kept_table"]  # step objects are no table of the lake
    # run2's objects, nothing of run1 (not an ancestor of run2), nothing of the tables.
    assert delete_step_tables(lake.store, instance, "run2") == 1
    assert lake.store.list(STEPS_PREFIX) == run1
    assert lake.read("kept_table", "d").equals(frame)
    assert not (tmp_path / "lake" / STEPS_PREFIX / "run2").exists()


def test_sweep_removes_only_old_step_tables_no_unfinished_run_needs(tmp_path: Path, monkeypatch):
    monkeypatch.setenv(RETENTION_ENV, "24")
    lake = Lake(tmp_path / "wh" / "lake")
    instance = dg.DagsterInstance.ephemeral()
    status = dg.DagsterRunStatus
    runs = {  # run id: (status, parent run, hours since its last step object)
        "failed_old": (status.FAILURE, None, 48),
        "failed_new": (status.FAILURE, None, 2),
        "cancelled_old": (status.CANCELED, None, 30),
        "running_old": (status.STARTED, None, 48),  # one long chunk step
        "reexecuted_old": (status.FAILURE, None, 48),
        "reexecution": (status.STARTED, "reexecuted_old", 1),
        "forgotten_old": (None, None, 48),  # no record in this instance
    }
    for run_id, (run_status, parent, hours) in runs.items():
        if run_status is not None:
            run = dg.DagsterRun(
                job_name="j",
                run_id=run_id,
                status=run_status,
                parent_run_id=parent,
                root_run_id=parent,
            )
            instance.add_run(run)
        lake.store.put(f"{STEPS_PREFIX}/{run_id}/g.plan/result.parquet", b"x")
        aged_s = time.time() - hours * 3600
        os.utime(tmp_path / "wh" / "lake" / STEPS_PREFIX / run_id / "g.plan" / "result.parquet",
                 (aged_s, aged_s))  # fmt: skip
    lake.write("face_landmarks", "d", pl.DataFrame({"media_id": ["a"]}))
    context = dg.build_sensor_context(
        instance=instance,
        resources={"warehouse": WarehouseResource(data_dir=str(tmp_path), warehouse_dir=str(tmp_path / "wh"))},
    )  # fmt: skip

    first = step_tables_sweep(context)
    assert "removed 3 step objects of 3 finished runs" in first.skip_message
    left = {name.split("/")[1] for name in lake.store.list(STEPS_PREFIX)}
    assert left == {"failed_new", "running_old", "reexecuted_old", "reexecution"}
    assert not (tmp_path / "wh" / "lake" / STEPS_PREFIX / "failed_old").exists()
    assert lake.tables() == ["face_landmarks"]
    second = step_tables_sweep(context)
    assert second.skip_message.startswith("no step tables older than")


@pytest.mark.slow  # three real landmark passes
def test_split_pass_writes_the_unsplit_table(tmp_path: Path, samples, model_path):
    data, wh = tmp_path / "data", tmp_path / "warehouse"
    folder = make_small_dataset(data)
    lake = Lake.in_warehouse(wh)
    instance = dg.DagsterInstance.ephemeral()

    whole = materialize_partition(CHAIN, "mini", data, wh, instance=instance)
    assert whole.success
    assert len(_chunk_steps(whole)) == 1
    unsplit = lake.read("face_landmarks", "mini")
    inventory, frames = lake.read("media_inventory", "mini"), lake.read("sampled_frames", "mini")
    media = frames["media_id"].n_unique()
    assert media == 3 and unsplit.height == 14

    # What the unsplit asset ran before it was split: one pass over the whole dataset.
    direct = landmark_pass_for_dataset(
        inventory, frames, folder, model_path, 1, hands=resolve_hand_model()
    )
    assert unsplit.equals(direct)

    split = materialize_partition(
        [*CHAIN, landmarks_complete_and_finite],
        "mini",
        data,
        wh,
        instance=instance,
        selection=[face_landmarks],
        run_config=_chunking(1),
    )
    assert split.success
    assert len(_chunk_steps(split)) == media  # one step per media
    assert lake.read("face_landmarks", "mini").equals(unsplit)
    (check,) = split.get_asset_check_evaluations()
    assert check.passed

    # The chunks went through Parquet objects of the lake, all removed once the table was.
    handled = _handled_paths(split)
    assert len(handled) == 2 * media  # the plan's chunks and the chunk steps' tables
    assert all(f"/{STEPS_PREFIX}/{split.run_id}/" in path for path in handled)
    assert lake.store.list(STEPS_PREFIX) == []
    assert lake.tables() == ["face_landmarks", "media_inventory", "sampled_frames"]

    (event,) = split.asset_materializations_for_node("face_landmarks")
    metadata = event.metadata
    assert metadata["dagster/row_count"].value == 14 and metadata["chunks"].value == media
    assert metadata["frames_by_status"].value == {"ok": 14}
    assert metadata["frames_per_s"].value > 0 and metadata["workers"].value == 1


@pytest.mark.slow
def test_a_dataset_without_usable_media_writes_an_empty_table(tmp_path: Path):
    data, wh = tmp_path / "data", tmp_path / "warehouse"
    (data / "broken").mkdir(parents=True)
    (data / "broken" / "not_a_face.jpg").write_bytes(b"no image here")
    result = materialize_partition(CHAIN, "broken", data, wh)
    assert result.success
    assert len(_chunk_steps(result)) == 1  # one empty chunk
    table = Lake.in_warehouse(wh).read("face_landmarks", "broken")
    assert table.height == 0 and table.schema == pl.Schema(FACE_LANDMARKS_SCHEMA)
    assert Lake.in_warehouse(wh).store.list(STEPS_PREFIX) == []
