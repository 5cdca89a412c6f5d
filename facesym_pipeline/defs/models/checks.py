import dagster as dg
import polars as pl

from facesym_pipeline.defs.resources import WarehouseResource


class ClassifierQualityConfig(dg.Config):
    min_grouped_auc: float = 0.6


@dg.asset_check(asset="asymmetry_classifier", blocking=True)
def classifier_honest_and_above_floor(
    config: ClassifierQualityConfig, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    """Fails when a subject appears in both train and test of a grouped fold, or when the
    chosen model's subject-grouped CV ROC AUC is below the floor."""
    from facesym_pipeline.lib.classify.model_selection import fold_leakage

    lake = warehouse.lake
    if "cv_folds" not in lake.tables():
        return dg.AssetCheckResult(
            passed=True,
            metadata={"trained": False},
            description="no classifier has been trained: the datasets lack labelled media",
        )
    folds = lake.read("cv_folds", None)
    metrics = lake.read("model_metrics", None)
    leaked = fold_leakage(folds["group"].to_list(), folds["grouped_fold"].to_list())
    model_id = folds["model_id"][0]
    chosen = lake.read("model_registry", None).filter(pl.col("model_id") == model_id)
    auc = metrics.filter(
        (pl.col("model") == chosen["model_name"][0])
        & (pl.col("cv_scheme") == "grouped")
        & (pl.col("metric") == "roc_auc")
    )["value"][0]
    return dg.AssetCheckResult(
        passed=not leaked and auc >= config.min_grouped_auc,
        metadata={
            "grouped_roc_auc": round(float(auc), 4),
            "floor": config.min_grouped_auc,
            "leaked_groups": len(leaked),
        },
        description=f"groups in train and test: {leaked[:5]}" if leaked else None,
    )
