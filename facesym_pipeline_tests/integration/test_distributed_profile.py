"""The `distributed` profile end to end on a small real dataset: Postgres, Redis, moto,
two Celery workers and the Dagster daemon are started by a fixture; the daemon's sensors
and automation conditions submit the runs, the workers execute the steps, and every lake
table in the object store must equal the one a local `facesym run` writes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from facesym_pipeline.apps.distributed_demo import wait_until_settled
from facesym_pipeline.apps.services import BUCKET, distributed_stack, missing_programs
from facesym_pipeline.lib.store.catalog import table_counts
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline.lib.store.lake_compare import compare_lakes

pytestmark = pytest.mark.slow

# Four photos of different people and a short video: every chain of the graph has work.
MEDIA = ("obama.jpg", "biden.jpg", "single_face.jpg", "0-f1-su-ph.jpg", "single_face.mp4")
DATASET = "mini"


@pytest.fixture(scope="module")
def data_dir(samples, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    (root / DATASET).mkdir()
    for name in MEDIA:
        shutil.copy(samples[name], root / DATASET / name)
    return root


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACESYM_", "AWS_"))}
    return env | extra


@pytest.fixture(scope="module")
def local_warehouse(data_dir, tmp_path_factory) -> Path:
    """The local profile's result: `facesym run` in its own process and instance."""
    root = tmp_path_factory.mktemp("local")
    (root / "home").mkdir()
    env = _env(
        DAGSTER_HOME=str(root / "home"),
        FACESYM_DATA=str(data_dir),
        FACESYM_WAREHOUSE=str(root / "warehouse"),
    )
    cli = Path(sys.executable).with_name("facesym")
    done = subprocess.run([str(cli), "run"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return root / "warehouse"


@pytest.fixture(scope="module")
def stack(data_dir, local_warehouse, tmp_path_factory):
    if missing := missing_programs():
        pytest.fail(f"the distributed profile needs {missing}: run `make distributed-deps`")
    state = tmp_path_factory.mktemp("distributed")
    saved = dict(os.environ)
    with distributed_stack(
        state, state / "warehouse", data_dir, workers=2, media_per_chunk=2
    ) as running:
        os.environ.update(running.env)
        try:
            yield running
        finally:
            os.environ.clear()
            os.environ.update(saved)
    still_running = [name for name, p in running.processes.items() if p.poll() is None]
    assert still_running == [], f"services left running: {still_running}"


@pytest.fixture(scope="module")
def settled(stack):
    return wait_until_settled(stack, [DATASET], timeout_s=1500)


def test_the_daemon_materialises_everything_through_the_queue(settled):
    assert settled.failed == []
    assert settled.missing == []
    assert settled.runs >= 2


def test_steps_ran_on_both_celery_workers(settled):
    assert sorted(settled.steps_by_worker) == ["facesym-1", "facesym-2"]
    assert all(n > 0 for n in settled.steps_by_worker.values())


def test_the_landmark_pass_ran_in_chunks(settled):
    # 5 media, 2 per chunk: three chunk steps, whose joined table the comparison checks
    assert settled.chunk_steps == 3


def test_every_lake_table_matches_the_local_run(settled, stack, local_warehouse):
    comparison = compare_lakes(
        Lake.in_warehouse(local_warehouse), Lake(stack.env["FACESYM_LAKE_URI"])
    )
    assert comparison.differences == []
    assert comparison.tables >= 20
    assert comparison.rows > 0


def test_the_lake_lives_in_the_object_store_only(settled, stack):
    client = boto3.client("s3", endpoint_url=stack.env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix="lake/")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert f"lake/face_landmarks/dataset={DATASET}/part.parquet" in keys
    assert not (Path(stack.env["FACESYM_WAREHOUSE"]) / "lake").exists()
    logs = client.list_objects_v2(Bucket=BUCKET, Prefix="compute-logs/")
    assert logs.get("KeyCount", 0) > 0, "compute logs were not written to the object store"


def test_the_catalog_reads_the_lake_over_s3(settled, stack, local_warehouse):
    lake = Lake(stack.env["FACESYM_LAKE_URI"])
    remote = table_counts(Path(stack.env["FACESYM_WAREHOUSE"]) / "facesym.duckdb", lake)
    local = table_counts(local_warehouse / "facesym.duckdb")
    assert remote == local
    assert remote["face_landmarks"] > 0
