"""The DuckDB catalog: one asset that depends on every table, so it sits above the domains,
next to the jobs whose asset lists it reads (written last, by this one step)."""

import dagster as dg

from facesym_pipeline.defs.jobs import PARTITIONED_ASSETS
from facesym_pipeline.defs.models.assets import asymmetry_classifier
from facesym_pipeline.defs.normative.assets import healthy_ranges, risk_model, validity_report
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.defs.temporal.assets import sequence_model
from facesym_pipeline.defs.warehouse.assets import feature_dictionary
from facesym_pipeline.lib.render.markdown import counts_table
from facesym_pipeline.lib.store.catalog import refresh_catalog


@dg.asset(
    # Every lake table: a view is made over each.
    deps=[
        *(key for assets in PARTITIONED_ASSETS for key in assets.keys),
        *asymmetry_classifier.keys,
        *risk_model.keys,
        *sequence_model.keys,
        feature_dictionary,
        healthy_ranges,
        validity_report,
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
