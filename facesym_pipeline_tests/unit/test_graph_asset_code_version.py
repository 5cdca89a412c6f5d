"""The code version of a graph-backed asset: every op's code counts, deterministically."""

from __future__ import annotations

import dagster as dg
import pytest

from facesym_pipeline.definitions import _code_version, defs


@dg.op(name="plan", out=dg.DynamicOut())
def plan_v1():
    yield dg.DynamicOutput(1, mapping_key="c0000")


@dg.op(name="plan", out=dg.DynamicOut())
def plan_v2():
    yield dg.DynamicOutput(2, mapping_key="c0000")


@dg.op(name="chunk")
def chunk_v1(value):
    return value


@dg.op(name="chunk")
def chunk_v2(value):
    return value * 2


@dg.op(name="collect")
def collect_v1(values):
    return sum(values)


@dg.op(name="collect")
def collect_v2(values):
    return max(values)


def _asset(plan, chunk, collect) -> dg.AssetsDefinition:
    @dg.graph_asset(name="table")
    def table():
        return collect(plan().map(chunk).collect())

    return table


def test_the_same_ops_give_the_same_version():
    assert _code_version(_asset(plan_v1, chunk_v1, collect_v1)) == _code_version(
        _asset(plan_v1, chunk_v1, collect_v1)
    )


@pytest.mark.parametrize(
    "changed",
    [
        (plan_v2, chunk_v1, collect_v1),
        (plan_v1, chunk_v2, collect_v1),
        (plan_v1, chunk_v1, collect_v2),
    ],
    ids=["plan", "chunk", "collect"],
)
def test_a_change_to_any_op_changes_the_version(changed):
    assert _code_version(_asset(*changed)) != _code_version(_asset(plan_v1, chunk_v1, collect_v1))


def test_the_landmark_graph_is_versioned_by_its_three_ops():
    from facesym_pipeline.defs.landmarks.assets import face_landmarks

    node = defs.resolve_asset_graph().get(dg.AssetKey("face_landmarks"))
    assert node.code_version == _code_version(face_landmarks)
    ops = {op.name for op in face_landmarks.node_def.iterate_op_defs()}
    assert ops == {"plan_landmark_chunks", "landmark_chunk", "collect_landmark_chunks"}
