import dagster as dg
from pydantic import Field

from facesym_pipeline.defs.features.assets import media_features
from facesym_pipeline.defs.metadata import skipped_results, table_metadata, table_spec
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.measure.reference_split import NORMATIVE_DATASETS
from facesym_pipeline.lib.render.markdown import inline_png, markdown_table

SHAP_PNG = "facial_asymmetry_functional_shap.png"


class ClassifierConfig(dg.Config):
    partitions: list[str] | None = Field(
        default=None, description="Dataset partitions to train on (None: every labelled one)"
    )
    exclude: list[str] = Field(
        default_factory=lambda: list(NORMATIVE_DATASETS),
        description="Partitions never trained on: the normative population is the risk "
        "model's, and its held-out people must stay unseen",
    )
    seed: int = Field(default=0, description="Seed of folds, models and bootstrap")
    n_boot: int = Field(default=1000, description="Bootstrap resamples per confidence interval")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "asymmetry_classifier",
            deps=[media_features],
            description="The landmark-feature stroke-asymmetry classifier (logistic "
            "regression or boosted trees, chosen by subject-grouped cross-validation), saved "
            "with skops, with SHAP.",
            kinds={"scikitlearn", "skops"},
        ),
        table_spec(
            "model_metrics",
            "asymmetry_classifier",
            "Cross-validated metrics of every candidate model, "
            "grouped by subject and (for contrast) random, with bootstrap intervals.",
        ),
        table_spec(
            "cv_folds", "asymmetry_classifier", "Which fold held out each training row, per scheme."
        ),
        table_spec(
            "model_registry",
            "asymmetry_classifier",
            "Every saved model file: id, kind, features, training "
            "partitions, code version and sha256.",
        ),
    ],
    group_name="models",
)
def asymmetry_classifier(
    context: dg.AssetExecutionContext, config: ClassifierConfig, warehouse: WarehouseResource
):
    # scikit-learn and skops load in the step that trains, not in every process.
    from facesym_pipeline.lib.classify.training_data import training_frame
    from facesym_pipeline.lib.classify.training_run import train_classifier, why_not_trainable
    from facesym_pipeline.lib.store.model_files import list_models

    lake = warehouse.lake
    features = lake.read_all("media_features")
    if config.partitions is not None:
        features = features.filter(features["dataset"].is_in(config.partitions))
    if features.height:
        features = features.filter(~features["dataset"].is_in(config.exclude))
    reason = why_not_trainable(training_frame(features))
    if reason is not None:
        # Unlabelled data is normal input: say so instead of failing the catalog's run.
        yield from skipped_results(context, reason)
        return
    run = train_classifier(
        features,
        warehouse.models_dir,
        warehouse.exports_dir / SHAP_PNG,
        seed=config.seed,
        n_boot=config.n_boot,
    )
    registry = list_models(warehouse.models_dir)
    tables = {"model_metrics": run.metrics, "cv_folds": run.folds, "model_registry": registry}
    paths = {name: lake.write(name, None, table) for name, table in tables.items()}
    grouped = run.metrics.filter(
        (run.metrics["cv_scheme"] == "grouped") & (run.metrics["model"] == run.record.model_name)
    )
    context.log.info(f"model {run.record.model_id} ({run.record.model_name}) on {run.partitions}")
    yield dg.MaterializeResult(
        asset_key="asymmetry_classifier",
        metadata={
            "path": dg.MetadataValue.path(
                str(warehouse.models_dir / f"{run.record.model_id}.skops")
            ),
            "model_id": run.record.model_id,
            "model": run.record.model_name,
            "training_rows": run.n_rows,
            "training_partitions": dg.MetadataValue.json(run.partitions),
            "grouped_cv_metrics": dg.MetadataValue.md(markdown_table(grouped, max_rows=20)),
            "top_features": dg.MetadataValue.md(run.shap_markdown),
            "shap_summary": dg.MetadataValue.md(inline_png(run.shap_png, "SHAP summary")),
        },
    )
    for name, table in tables.items():
        yield dg.MaterializeResult(asset_key=name, metadata=table_metadata(table, paths[name]))
