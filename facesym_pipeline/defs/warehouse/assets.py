import dagster as dg

from facesym_pipeline.defs.frames.assets import sampled_frames
from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.warehouse.resources import WarehouseResource
from facesym_pipeline.lib.catalog import refresh_catalog
from facesym_pipeline.lib.markdown import counts_table

LAKE_TABLE_ASSETS = [media_inventory, sampled_frames, face_landmarks, frame_quality]


@dg.asset(deps=LAKE_TABLE_ASSETS, group_name="warehouse", kinds={"duckdb"})
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
