import os

import dagster as dg
import polars as pl
from pydantic import Field

from facesym_pipeline.defs.landmarks.resources import (
    LANDMARK_CHUNKS_IO_MANAGER,
    delete_step_tables,
)
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.progress import progress
from facesym_pipeline.defs.resources import LandmarkerResource, WarehouseResource
from facesym_pipeline.lib.face.chunks import join_chunks, plan_chunks
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset

# Concurrency pool of the chunk steps: `dagster instance concurrency set landmarks N` (or the
# instance's pool settings) caps how many run at once, across runs.
LANDMARKS_POOL = "landmarks"


class LandmarkChunksConfig(dg.Config):
    media_per_chunk: int = Field(
        # a deployment sets its own default for the runs automation launches
        default_factory=lambda: int(os.environ.get("FACESYM_MEDIA_PER_CHUNK", "500")),
        ge=1,
        description="Media per step of the landmark pass: each chunk is a step of its own, "
        "which a step executor (Celery, Kubernetes) runs on any worker",
    )


@dg.op(
    ins={"sampled_frames": dg.In(dg.Nothing)},
    out=dg.DynamicOut(io_manager_key=LANDMARK_CHUNKS_IO_MANAGER),
)
def plan_landmark_chunks(
    context: dg.OpExecutionContext, config: LandmarkChunksConfig, warehouse: WarehouseResource
):
    """The sampled frames of the dataset, split into chunks of media (in media_id order)."""
    key = context.partition_key
    inventory = warehouse.lake.read("media_inventory", key)
    frames = warehouse.lake.read("sampled_frames", key)
    for chunk, chunk_frames in plan_chunks(inventory, frames, config.media_per_chunk):
        yield dg.DynamicOutput(chunk_frames, mapping_key=chunk)


@dg.op(out=dg.Out(io_manager_key=LANDMARK_CHUNKS_IO_MANAGER), pool=LANDMARKS_POOL)
def landmark_chunk(
    context: dg.OpExecutionContext,
    chunk_frames: pl.DataFrame,
    warehouse: WarehouseResource,
    landmarker: LandmarkerResource,
) -> pl.DataFrame:
    """The landmark pass over one chunk's media."""
    key = context.partition_key
    with progress(context, f"[{key}] landmarks {context.get_mapping_key()}", "media") as report:
        return landmark_pass_for_dataset(
            warehouse.lake.read("media_inventory", key),
            chunk_frames,
            warehouse.dataset_folder(key),
            landmarker.resolved_model(),
            landmarker.workers,
            progress=report,
            hands=landmarker.resolved_hands(),
        )


@dg.op(out=dg.Out(dg.Nothing))
def collect_landmark_chunks(
    context: dg.OpExecutionContext,
    chunks: list[pl.DataFrame],
    warehouse: WarehouseResource,
    landmarker: LandmarkerResource,
) -> dg.Output[None]:
    """The chunks' rows as the dataset's table, in the unsplit pass's order; then the step
    tables of the run are removed."""
    table = join_chunks(chunks)
    path = warehouse.lake.write("face_landmarks", context.partition_key, table)
    delete_step_tables(warehouse.lake.store, context.instance, context.run_id)
    elapsed_s = _chunk_steps_seconds(context)
    status = dict(table["status"].value_counts().iter_rows())
    return dg.Output(
        None,
        metadata=table_metadata(
            table,
            path,
            frames_with_face=status.get("ok", 0),
            frames_by_status=dg.MetadataValue.json(status),
            frames_per_s=round(table.height / elapsed_s, 1) if elapsed_s else None,
            workers=landmarker.workers,
            hand_cover_measured=landmarker.detect_hands,
            chunks=len(chunks),
        ),
    )


def _chunk_steps_seconds(context: dg.OpExecutionContext) -> float | None:
    """Wall time of this run's chunk steps, from the first start to the last success."""
    prefix = f"{context.node_handle.parent}.{landmark_chunk.name}["
    records = context.instance.get_records_for_run(
        context.run_id, of_type={dg.DagsterEventType.STEP_START, dg.DagsterEventType.STEP_SUCCESS}
    ).records
    times = [r.timestamp for r in records if (r.event_log_entry.step_key or "").startswith(prefix)]
    return max(times) - min(times) if len(times) > 1 else None


@dg.graph_asset(
    partitions_def=dataset_partitions,
    ins={"sampled_frames": dg.AssetIn(dagster_type=dg.Nothing)},
    group_name="landmarks",
    kinds={"parquet", "mediapipe"},
)
def face_landmarks(sampled_frames):
    """MediaPipe face landmarks (478 x 3), blendshapes (52) and head transform (4 x 4) for
    every sampled frame, with face count, image metrics and the hand cover of the face
    (occlusion), all measured on the same decoded frame."""
    chunks = plan_landmark_chunks(sampled_frames).map(landmark_chunk)
    return collect_landmark_chunks(chunks.collect())
