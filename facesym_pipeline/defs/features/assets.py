import dagster as dg

from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.warehouse.resources import WarehouseResource
from facesym_pipeline.lib.feature_tables import (
    functional_table,
    media_feature_table,
    passed_frames,
    still_media,
    symmetry_table,
)


def _passed(warehouse: WarehouseResource, key: str):
    lake = warehouse.lake
    return passed_frames(lake.read("face_landmarks", key), lake.read("frame_quality", key))


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[face_landmarks, frame_quality],
    group_name="features",
    kinds={"parquet", "numpy"},
)
def symmetry_features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Geometric left/right asymmetry of every quality-passed frame in millimetres and
    degrees (mouth, eyes, nose, brows, regional Procrustes), with head pose and scale."""
    key = context.partition_key
    stills = still_media(warehouse.lake.read("media_inventory", key))
    table = symmetry_table(_passed(warehouse, key), stills)
    path = warehouse.lake.write("symmetry_features", key, table)
    return dg.MaterializeResult(metadata=table_metadata(table, path))


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[symmetry_features],
    group_name="features",
    kinds={"parquet", "numpy"},
)
def functional_features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Movement asymmetry of every quality-passed frame: gated left/right blendshape
    asymmetries and lower-face, upper-face and forehead-sparing scores."""
    key = context.partition_key
    table = functional_table(_passed(warehouse, key), warehouse.lake.read("symmetry_features", key))
    path = warehouse.lake.write("functional_features", key, table)
    return dg.MaterializeResult(metadata=table_metadata(table, path))


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[symmetry_features, functional_features],
    group_name="features",
    kinds={"parquet", "polars"},
)
def media_features(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """One row per analysed image or video: its measurements (a video's robust medians,
    90th percentiles and time beyond the healthy range), range of motion, label, subject."""
    key = context.partition_key
    lake = warehouse.lake
    table = media_feature_table(
        lake.read("symmetry_features", key),
        lake.read("functional_features", key),
        lake.read("media_inventory", key),
    )
    path = lake.write("media_features", key, table)
    return dg.MaterializeResult(
        metadata=table_metadata(table, path, videos=int((table["kind"] == "video").sum()))
    )
