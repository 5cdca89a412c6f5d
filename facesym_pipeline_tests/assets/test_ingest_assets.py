"""The foundation assets materialised through Dagster on small real datasets."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from facesym_pipeline.defs.catalog import warehouse_catalog
from facesym_pipeline.defs.frames.assets import sampled_frames
from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.ingest.checks import every_file_accounted_for
from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.quality.checks import landmarks_complete_and_finite, quality_pass_rate
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline_tests.assets.dagster_helpers import materialize_partition
from facesym_pipeline_tests.bad_inputs import EXPECTED_QUALITY, build_bad_input_corpus
from facesym_pipeline_tests.helpers import make_small_dataset

pytestmark = pytest.mark.slow  # Dagster materialisations

CHAIN = [media_inventory, sampled_frames, face_landmarks, frame_quality]
CHECKS = [every_file_accounted_for, landmarks_complete_and_finite, quality_pass_rate]


@pytest.fixture(scope="module")
def mini(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp("mini")
    make_small_dataset(root / "data")
    result = materialize_partition(
        [*CHAIN, *CHECKS], "mini", root / "data", root / "warehouse", workers=2
    )
    return root, result


def test_chain_succeeds_with_metadata(mini):
    _, result = mini
    assert result.success
    for asset in CHAIN:
        (event,) = result.asset_materializations_for_node(asset.key.path[-1])
        assert event.metadata["dagster/row_count"].value > 0
        assert "preview" in event.metadata
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "every_file_accounted_for": True,
        "landmarks_complete_and_finite": True,
        "quality_pass_rate": True,
    }


def test_landmarks_are_compact_and_video_is_sampled(mini):
    root, _ = mini
    lake = Lake.in_warehouse(root / "warehouse")
    table = lake.read("face_landmarks", "mini")
    assert table.schema["landmarks"] == pl.Array(pl.Float32, 1434)
    assert table.schema["blendshapes"] == pl.Array(pl.Float32, 52)
    video = table.join(
        lake.read("media_inventory", "mini").filter(pl.col("kind") == "video"), on="media_id"
    )
    # single_face.mp4: 2.4 s at 30 fps, sampled at 5 fps -> 12 frames, 0.2 s apart.
    assert video.height == 12
    assert video["t_s"].diff().drop_nulls().round(3).unique().to_list() == [0.2]
    assert (video["status"] == "ok").all()


def test_rematerialising_is_idempotent(mini, tmp_path):
    root, _ = mini
    lake = Lake.in_warehouse(root / "warehouse")
    before = lake.read("frame_quality", "mini")
    result = materialize_partition([frame_quality], "mini", root / "data", root / "warehouse")
    assert result.success
    assert lake.read("frame_quality", "mini").equals(before)


def test_catalog_views_readable_by_an_analyst(mini):
    root, _ = mini
    result = dg.materialize(
        [warehouse_catalog],
        resources={
            "warehouse": __import__(
                "facesym_pipeline.defs.resources", fromlist=["WarehouseResource"]
            ).WarehouseResource(data_dir=str(root / "data"), warehouse_dir=str(root / "warehouse"))
        },
    )
    assert result.success
    with duckdb.connect(str(root / "warehouse" / "facesym.duckdb"), read_only=True) as con:
        rows = con.execute("select count(*) from face_landmarks where status = 'ok'").fetchone()
        assert rows[0] == 14  # 2 stills + 12 video frames
        labels = dict(con.execute("select relpath, label from media_inventory").fetchall())
    assert labels["stroke_data/obama.jpg"] == 1
    assert labels["noStroke_data/biden.jpg"] == 0
    assert labels["single_face.mp4"] is None


def test_bad_inputs_never_take_down_the_partition(tmp_path: Path, samples):
    build_bad_input_corpus(tmp_path / "data" / "bad", tmp_path / "elsewhere")
    result = materialize_partition(
        [*CHAIN, every_file_accounted_for], "bad", tmp_path / "data", tmp_path / "wh"
    )
    assert result.success
    lake = Lake.in_warehouse(tmp_path / "wh")
    inventory = lake.read("media_inventory", "bad")
    quality = lake.read("frame_quality", "bad").join(
        inventory.select("media_id", "relpath"), on="media_id"
    )
    by_file = {r["relpath"]: r for r in quality.iter_rows(named=True)}
    for relpath, reason in EXPECTED_QUALITY.items():
        assert not by_file[relpath]["passed"]
        assert any(r.startswith(reason) for r in by_file[relpath]["reasons"]), by_file[relpath]
    # Real faces in odd encodings are analysed and pass.
    for relpath in ("alpha.png", "cmyk.jpg", "grayscale.jpg", "exif_rotated.jpg", "huge_12000.jpg"):
        assert by_file[relpath]["passed"], by_file[relpath]
    assert by_file["visage été 1.jpg"]["passed"]
