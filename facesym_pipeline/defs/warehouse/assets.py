import dagster as dg

from facesym_pipeline.defs.features.assets import functional_features, symmetry_features
from facesym_pipeline.defs.jobs import DEEP_MODEL_ASSETS, PARTITIONED_ASSETS
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.models.assets import asymmetry_classifier
from facesym_pipeline.defs.temporal.assets import healthy_ranges, sequence_model
from facesym_pipeline.defs.warehouse.resources import WarehouseResource
from facesym_pipeline.lib.catalog import refresh_catalog
from facesym_pipeline.lib.exports import export_tables
from facesym_pipeline.lib.feature_dictionary import feature_dictionary as dictionary_table
from facesym_pipeline.lib.markdown import counts_table


@dg.asset(group_name="warehouse", kinds={"parquet"})
def feature_dictionary(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every feature column with its unit, face region, formula in words and the landmark
    indices it uses, for analysts reading the feature tables."""
    table = dictionary_table()
    path = warehouse.lake.write("feature_dictionary", None, table)
    return dg.MaterializeResult(metadata=table_metadata(table, path))


@dg.asset(
    deps=[symmetry_features, functional_features], group_name="warehouse", kinds={"csv"}
)
def feature_exports(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """CSV exports of the symmetry and functional feature tables over all datasets."""
    written = export_tables(warehouse.lake, warehouse.exports_dir)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md(counts_table(written, "file", "rows")),
            "dagster/row_count": sum(written.values()),
        }
    )


@dg.asset(
    deps=[
        *PARTITIONED_ASSETS,
        *DEEP_MODEL_ASSETS,
        feature_dictionary,
        asymmetry_classifier,
        healthy_ranges,
        sequence_model,
    ],
    group_name="warehouse",
    kinds={"duckdb"},
)
def warehouse_catalog(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """The DuckDB catalog `warehouse/facesym.duckdb`: one view per lake table over all
    dataset partitions, for analysts to open read-only."""
    counts = refresh_catalog(warehouse.catalog_path, warehouse.lake)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(warehouse.catalog_path)),
            "views": dg.MetadataValue.md(counts_table(counts, "view", "rows")),
            "dagster/row_count": sum(counts.values()),
        }
    )
