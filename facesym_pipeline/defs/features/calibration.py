import dagster as dg
import polars as pl

from facesym_pipeline.defs.features.assets import media_features
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.warehouse.resources import WarehouseResource
from facesym_pipeline.lib.calibration import TABLE_SCHEMA, calibration_plot, calibration_table
from facesym_pipeline.lib.inventory import read_labels_table
from facesym_pipeline.lib.markdown import inline_png


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
