import dagster as dg
from pydantic import Field

from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.media.sampling import sample_frames


class FrameSamplingConfig(dg.Config):
    sample_fps: float = Field(default=5.0, gt=0, description="Frames analysed per second of video")
    max_frames_per_video: int | None = Field(
        default=None, description="Cap on analysed frames per video (None: whole video)"
    )


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[media_inventory],
    group_name="frames",
    kinds={"parquet", "polars"},
)
def sampled_frames(
    context: dg.AssetExecutionContext, config: FrameSamplingConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The frames chosen for analysis: one per image, `sample_fps` per second of video."""
    key = context.partition_key
    inventory = warehouse.lake.read("media_inventory", key)
    frames = sample_frames(inventory, config.sample_fps, config.max_frames_per_video)
    path = warehouse.lake.write("sampled_frames", key, frames)
    return dg.MaterializeResult(
        metadata=table_metadata(frames, path, media=frames["media_id"].n_unique())
    )
