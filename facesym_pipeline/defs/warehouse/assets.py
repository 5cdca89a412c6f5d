"""What the warehouse offers analysts besides the tables themselves: the feature dictionary
and the CSV exports (the DuckDB catalog over every table is `defs/catalog.py`)."""

import dagster as dg

from facesym_pipeline.defs.features.assets import functional_features, symmetry_features
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.measure.feature_dictionary import feature_dictionary as dictionary_table
from facesym_pipeline.lib.render.markdown import counts_table
from facesym_pipeline.lib.store.exports import export_tables


@dg.asset(group_name="warehouse", kinds={"parquet"})
def feature_dictionary(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every feature column with its unit, face region, formula in words and the landmark
    indices it uses, for analysts reading the feature tables."""
    table = dictionary_table()
    path = warehouse.lake.write("feature_dictionary", None, table)
    return dg.MaterializeResult(metadata=table_metadata(table, path))


@dg.asset(deps=[symmetry_features, functional_features], group_name="warehouse", kinds={"csv"})
def feature_exports(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """CSV exports of the symmetry and functional feature tables over all datasets."""
    written = export_tables(warehouse.lake, warehouse.exports_dir)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.md(counts_table(written, "file", "rows")),
            "dagster/row_count": sum(written.values()),
        }
    )
