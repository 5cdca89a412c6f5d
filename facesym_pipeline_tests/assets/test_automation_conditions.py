"""The project's automation conditions on a two-asset graph whose step can be made to fail:
what is due after a success, a failure, new content and new code."""

from __future__ import annotations

import warnings

import dagster as dg
import pytest

from facesym_pipeline.defs.automation import condition_for
from facesym_pipeline.defs.ingest.observe import observation

PARTITIONS = dg.DynamicPartitionsDefinition(name="dataset")


def _graph(should_fail: dict, version: str = "1") -> list:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)

        @dg.multi_observable_source_asset(
            specs=[dg.AssetSpec("dataset_files", partitions_def=PARTITIONS)]
        )
        def dataset_files():
            yield dg.DataVersionsByPartition({})

    spec = dg.AssetSpec("inventory", partitions_def=PARTITIONS, deps=["dataset_files"])

    @dg.asset(
        key="inventory",
        partitions_def=PARTITIONS,
        deps=["dataset_files"],
        code_version=version,
        automation_condition=condition_for(spec, []),
    )
    def inventory(context):
        if should_fail.get(context.partition_key):
            raise RuntimeError("unreadable dataset")

    return [dataset_files, inventory]


def _due(assets, instance, cursor):
    result = dg.evaluate_automation_conditions(defs=assets, instance=instance, cursor=cursor)
    return result.cursor, sorted(
        (ap.asset_key.to_user_string(), ap.partition_key)
        for ap in result._requested_asset_partitions  # noqa: SLF001
    )


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_failures_wait_for_new_content_or_code_then_run_again():
    instance = dg.DagsterInstance.ephemeral()
    fail = {"a": True}
    assets = _graph(fail)
    cursor, _ = _due(assets, instance, None)  # the first evaluation only sets the baseline
    instance.add_dynamic_partitions("dataset", ["a"])
    instance.report_runless_asset_event(observation("a", "v1"))

    cursor, due = _due(assets, instance, cursor)
    assert due == [("inventory", "a")]
    run = dg.materialize(assets, selection=["inventory"], partition_key="a", instance=instance,
                         raise_on_error=False)  # fmt: skip
    assert not run.success
    cursor, due = _due(assets, instance, cursor)
    assert due == []  # a failure is not retried on every tick

    fail["a"] = False  # the cause goes away with new content
    instance.report_runless_asset_event(observation("a", "v2"))
    cursor, due = _due(assets, instance, cursor)
    assert due == [("inventory", "a")]
    assert dg.materialize(
        assets, selection=["inventory"], partition_key="a", instance=instance
    ).success
    cursor, due = _due(assets, instance, cursor)
    assert due == []

    # The same content observed again is not a change; new code is.
    instance.report_runless_asset_event(observation("a", "v2"))
    cursor, due = _due(assets, instance, cursor)
    assert due == []
    cursor, due = _due(_graph(fail, version="2"), instance, cursor)
    assert due == [("inventory", "a")]
