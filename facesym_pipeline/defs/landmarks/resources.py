"""How the steps of the landmark pass hand tables to each other: each output is one Parquet
object in the lake's storage (a folder or s3://), so a step on another worker or machine
reads what an earlier step wrote, and nothing is pickled.

Objects live under `_steps/<run_id>/<step_key>/<output>[/<mapping_key>].parquet`: a
prefix that is no table name, which the lake's table listing and the catalog skip.
"""

from __future__ import annotations

import io

import dagster as dg
import polars as pl

from facesym_pipeline.lib.store.lake import parquet_bytes
from facesym_pipeline.lib.store.object_store import ObjectStore
from facesym_pipeline.lib.store.step_objects import delete_run_objects, run_prefix

LANDMARK_CHUNKS_IO_MANAGER = "landmark_chunks_io_manager"


def _object_name(context: dg.OutputContext) -> str:
    # A dynamic output (the plan's chunks) has a mapping key; a mapped step's output has it
    # in its step key (`face_landmarks.landmark_chunk[c0000]`).
    name = f"{run_prefix(context.run_id)}/{context.step_key}/{context.name}"
    return f"{name}/{context.mapping_key}.parquet" if context.mapping_key else f"{name}.parquet"


class StepTablesIOManager(dg.IOManager):
    """Polars DataFrames between steps, one Parquet object per output in `store`."""

    def __init__(self, store: ObjectStore):
        self.store = store

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.step_key} returned {type(obj).__name__}, not a DataFrame")
        address = self.store.put(_object_name(context), parquet_bytes(obj))
        context.add_output_metadata(
            {"dagster/row_count": obj.height, "path": dg.MetadataValue.path(address)}
        )

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        # The upstream output's own run: in a re-execution that is the run that made it.
        return pl.read_parquet(io.BytesIO(self.store.get(_object_name(context.upstream_output))))


def delete_step_tables(store: ObjectStore, instance: dg.DagsterInstance, run_id: str) -> int:
    """Remove the step objects of a run and of the runs it re-executes (whose outputs it
    read); how many there were."""
    return sum(delete_run_objects(store, r) for r in run_and_ancestors(instance, run_id))


def run_and_ancestors(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """The run and the runs it re-executes, parent by parent, as far as the instance knows."""
    chain = []
    while run_id and run_id not in chain:
        chain.append(run_id)
        run = instance.get_run_by_id(run_id)
        run_id = run.parent_run_id if run else None
    return chain


@dg.io_manager(
    required_resource_keys={"warehouse"},
    description="Tables between the steps of one asset, as Parquet objects in the lake's "
    "storage under _steps/<run_id>/ (local folder or s3://, as the warehouse resource says)",
)
def landmark_chunks_io_manager(init_context: dg.InitResourceContext) -> StepTablesIOManager:
    return StepTablesIOManager(init_context.resources.warehouse.lake.store)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={LANDMARK_CHUNKS_IO_MANAGER: landmark_chunks_io_manager})
