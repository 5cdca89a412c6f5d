"""The lake on a local folder and on an S3-compatible store (moto on loopback): the same
interface, atomic one-object writes, and DuckDB views that read either."""

from __future__ import annotations

import os
import time
from pathlib import Path

import boto3
import polars as pl
import pytest

from facesym_pipeline.apps.services import BUCKET, object_store
from facesym_pipeline.lib.store.catalog import refresh_catalog, table_counts
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline.lib.store.lake_compare import compare_frames, compare_lakes
from facesym_pipeline.lib.store.step_objects import (
    RETENTION_ENV,
    STEPS_PREFIX,
    delete_run_objects,
    last_writes,
    retention_s,
    stale_runs,
    sweep,
)


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    saved = dict(os.environ)
    with object_store(tmp_path_factory.mktemp("moto")) as env:
        os.environ.update(env)
        try:
            yield env
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture(params=["local", "s3"])
def lake(request, tmp_path) -> Lake:
    if request.param == "local":
        return Lake(tmp_path / "lake")
    request.getfixturevalue("s3_env")
    return Lake(f"s3://{BUCKET}/{tmp_path.name}/lake")


def _frame(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {"media_id": [f"m{i}" for i in range(n)], "value_mm": [i / 3 for i in range(n)]}
    )


def test_write_read_list_on_both_stores(lake, tmp_path):
    assert lake.read_optional("symmetry_features", "faces") is None
    address = lake.write("symmetry_features", "faces", _frame(3))
    lake.write("symmetry_features", "clips", _frame(2))
    lake.write("healthy_ranges", None, _frame(1))
    assert address.endswith("symmetry_features/dataset=faces/part.parquet")
    assert lake.tables() == ["healthy_ranges", "symmetry_features"]
    assert sorted(lake.partitions("symmetry_features")) == ["clips", "faces"]
    assert lake.partitions("healthy_ranges") == []
    assert lake.read("symmetry_features", "faces").equals(_frame(3))
    assert lake.read_all("symmetry_features").height == 5
    # a rewrite replaces the partition whole
    lake.write("symmetry_features", "faces", _frame(1))
    assert lake.read("symmetry_features", "faces").equals(_frame(1))
    with pytest.raises(FileNotFoundError, match="materialise it first"):
        lake.read("symmetry_features", "nope")
    with pytest.raises(ValueError):
        lake.write("symmetry_features", "../escape", _frame(1))
    with pytest.raises(ValueError):
        lake.write("Bad-Table", "faces", _frame(1))


def test_a_write_is_one_object_with_no_leftovers(lake):
    lake.write("face_landmarks", "faces", _frame(4))
    lake.write("face_landmarks", "faces", _frame(2))
    assert lake.store.list("face_landmarks") == ["face_landmarks/dataset=faces/part.parquet"]
    if lake.store.local:
        folder = Path(lake.uri) / "face_landmarks" / "dataset=faces"
        assert [p.name for p in folder.iterdir()] == ["part.parquet"]


def test_catalog_views_read_the_lake_where_it_is(lake, tmp_path):
    lake.write("symmetry_features", "faces", _frame(3))
    lake.write("symmetry_features", "clips", _frame(2))
    db = tmp_path / "facesym.duckdb"
    assert refresh_catalog(db, lake) == {"symmetry_features": 5}
    assert table_counts(db, lake) == {"symmetry_features": 5}


def test_objects_land_in_the_bucket(s3_env):
    lake = Lake(f"s3://{BUCKET}/bucket-check/lake")
    lake.write("media_inventory", "faces", _frame(2))
    client = boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    keys = [
        o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix="bucket-check/")["Contents"]
    ]
    assert keys == ["bucket-check/lake/media_inventory/dataset=faces/part.parquet"]


def test_compare_frames_tolerates_float_noise_only():
    base = pl.DataFrame({"id": ["a", "b"], "x_mm": [1.0, float("nan")], "seconds": [3.0, 4.0]})
    noisy = base.with_columns(pl.col("x_mm") + 1e-12, pl.col("seconds") * 2)
    assert compare_frames(base, noisy) == []
    shifted = base.with_columns(pl.col("x_mm") + 0.01)
    assert compare_frames(base, shifted) == ["1 column(s) differ: x_mm"]
    renamed = base.with_columns(pl.Series("id", ["a", "c"]))
    assert compare_frames(base, renamed) == ["1 column(s) differ: id"]
    assert "rows" in compare_frames(base, base.head(1))[0]
    # the same rows in another order are the same table
    assert compare_frames(base, noisy.reverse()) == []


def test_compare_lakes_reports_missing_partitions(tmp_path):
    first, second = Lake(tmp_path / "a"), Lake(tmp_path / "b")
    for lake in (first, second):
        lake.write("symmetry_features", "faces", _frame(3))
    first.write("symmetry_features", "clips", _frame(2))
    result = compare_lakes(first, second)
    assert not result.matches
    assert result.differences == ["symmetry_features[clips]: only in the first lake"]
    second.write("symmetry_features", "clips", _frame(2))
    assert compare_lakes(first, second).matches


def test_step_objects_are_dated_and_swept_by_run(lake):
    before_s = time.time() - 5  # the store's clock may round to whole seconds
    for name in ("r1/g.plan/result/c0000.parquet", "r1/g.chunk[c0000]/result.parquet"):
        lake.store.put(f"{STEPS_PREFIX}/{name}", b"x")
    lake.store.put(f"{STEPS_PREFIX}/r2/g.plan/result.parquet", b"x")
    lake.write("face_landmarks", "faces", _frame(1))
    written = last_writes(lake.store)
    assert sorted(written) == ["r1", "r2"]
    assert all(before_s <= t <= time.time() + 5 for t in written.values())
    assert lake.tables() == ["face_landmarks"]

    later_s = time.time() + 3600
    assert stale_runs(written, [], later_s, keep_s=7200) == []  # not old enough
    assert stale_runs(written, ["r2"], later_s, keep_s=60) == ["r1"]  # r2 still running
    assert delete_run_objects(lake.store, "r1") == 2
    assert sorted(last_writes(lake.store)) == ["r2"]
    assert sweep(lake.store, ["r2"], later_s, keep_s=60) == {}
    assert sweep(lake.store, [], later_s, keep_s=60) == {"r2": 1}
    assert lake.store.list(STEPS_PREFIX) == []
    assert lake.read("face_landmarks", "faces").equals(_frame(1))


def test_step_table_retention_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv(RETENTION_ENV, raising=False)
    assert retention_s() == 7 * 24 * 3600
    monkeypatch.setenv(RETENTION_ENV, "1.5")
    assert retention_s() == 5400
    monkeypatch.setenv(RETENTION_ENV, "-1")
    with pytest.raises(ValueError, match="negative"):
        retention_s()
