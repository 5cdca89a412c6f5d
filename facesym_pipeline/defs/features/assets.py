import dagster as dg
import polars as pl

from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.face.quality import passed_frames
from facesym_pipeline.lib.measure.calibration import (
    TABLE_SCHEMA,
    calibration_plot,
    calibration_table,
)
from facesym_pipeline.lib.measure.feature_tables import (
    functional_table,
    media_feature_table,
    still_media,
    symmetry_table,
)
from facesym_pipeline.lib.media.labels import read_labels_table
from facesym_pipeline.lib.render.markdown import inline_png


def _passed(warehouse: WarehouseResource, key: str):
    lake = warehouse.lake
    return passed_frames(lake.read("face_landmarks", key), lake.read("frame_quality", key))


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[face_landmarks, frame_quality, media_inventory],
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
    deps=[symmetry_features, face_landmarks, frame_quality],
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
    deps=[symmetry_features, functional_features, media_inventory],
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


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[media_features],
    group_name="features",
    kinds={"parquet", "matplotlib"},
)
def measurement_calibration(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Measured vs injected change in millimetres (slope, intercept, MAE, Spearman) on a
    dataset whose labels.csv records injected asymmetry; empty for other datasets."""
    key = context.partition_key
    labels = read_labels_table(warehouse.dataset_folder(key))
    measured = warehouse.lake.read("media_features", key)
    has_injection = labels is not None and {"droop_mm", "ptosis_mm"} & set(labels.columns)
    table = (
        calibration_table(measured, labels) if has_injection else pl.DataFrame(schema=TABLE_SCHEMA)
    )
    path = warehouse.lake.write(
        "measurement_calibration", key, table.with_columns(dataset=pl.lit(key))
    )
    extra = {}
    if has_injection:
        png = calibration_plot(
            measured, labels, warehouse.reports_dir(key) / "calibration.png", title=key
        )
        extra["plot"] = dg.MetadataValue.md(inline_png(png, "measured vs injected"))
    return dg.MaterializeResult(metadata=table_metadata(table, path, **extra))
