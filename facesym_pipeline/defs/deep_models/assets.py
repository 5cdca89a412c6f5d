import shutil

import dagster as dg
import polars as pl
from pydantic import Field

from facesym_pipeline.defs.features.assets import symmetry_features
from facesym_pipeline.defs.metadata import table_metadata
from facesym_pipeline.defs.models.assets import asymmetry_classifier
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import LandmarkerResource, WarehouseResource
from facesym_pipeline.lib.audit.audit_data import audit_data
from facesym_pipeline.lib.audit.fold_training import load_fold_models, train_cnn_folds
from facesym_pipeline.lib.audit.model_comparison import run_audit
from facesym_pipeline.lib.image_models.crop_pass import crops_for_dataset
from facesym_pipeline.lib.image_models.datasets import crop_arrays_from_index
from facesym_pipeline.lib.image_models.train import TrainConfig
from facesym_pipeline.lib.media.labels import read_labels_table
from facesym_pipeline.lib.render.markdown import inline_png, markdown_table


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[symmetry_features],
    group_name="deep_models",
    kinds={"png", "parquet"},
)
def region_crops(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Aligned face, eye, nose and mouth crops (and mirrored partners) of every passed
    still, as PNG files under warehouse/crops/<dataset>/ with an index table. They contain
    face pixels: derived data, safe to delete, rebuilt by materialising this asset."""
    key = context.partition_key
    lake = warehouse.lake
    out_dir = warehouse.crops_dir(key)
    shutil.rmtree(out_dir, ignore_errors=True)
    index = crops_for_dataset(
        warehouse.dataset_folder(key),
        lake.read("media_inventory", key),
        lake.read("face_landmarks", key),
        lake.read("frame_quality", key),
        out_dir,
    ).with_columns(dataset=pl.lit(key))
    path = lake.write("region_crops", key, index)
    return dg.MaterializeResult(
        metadata=table_metadata(index, path, crops_dir=dg.MetadataValue.path(str(out_dir)))
    )


# The demo's dataset with a controlled shortcut; any labelled partition can be configured.
DEFAULT_AUDIT_DATASET = "demo-confounded"


class CnnConfig(dg.Config):
    dataset: str = Field(default=DEFAULT_AUDIT_DATASET, description="Labelled dataset partition")
    epochs: int = Field(default=25, description="Most epochs per fold (early stopping)")
    batch_size: int = Field(default=16, description="Images per step")
    seed: int = Field(default=0, description="Seed of folds, initialisation and batches")
    device: str = Field(default="auto", description="auto (CUDA when available) | cpu | cuda")
    threads: int = Field(default=2, description="CPU threads for torch")


def _audit_data(warehouse: WarehouseResource, key: str, seed: int):
    """The labelled stills of `key` with the same subject-grouped folds for every model."""
    lake, folder = warehouse.lake, warehouse.dataset_folder(key)
    return audit_data(
        folder,
        lake.read("media_inventory", key),
        lake.read("face_landmarks", key),
        lake.read("frame_quality", key),
        read_labels_table(folder),
        seed=seed,
    )


def _train(context, kind: str, config: CnnConfig, warehouse: WarehouseResource):
    lake, key = warehouse.lake, config.dataset
    data = _audit_data(warehouse, key, config.seed)
    arrays = crop_arrays_from_index(
        lake.read("region_crops", key),
        warehouse.crops_dir(key),
        [s.meta["media_id"] for s in data.samples],
    )
    settings = TrainConfig(
        epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
        num_threads=config.threads, device=config.device,
    )  # fmt: skip

    def log(epoch):
        context.log.info(
            f"{kind} fold {epoch.fold} epoch {epoch.epoch}: train loss {epoch.train_loss:.3f}, "
            f"val loss {epoch.val_loss:.3f}, val accuracy {epoch.val_accuracy:.2f}"
            + (" (best)" if epoch.best else "")
        )

    folder = warehouse.models_dir / "cnn" / key / kind
    run = train_cnn_folds(kind, data, arrays, settings, folder, on_epoch=log)
    history = run.history.with_columns(dataset=pl.lit(key))
    lake.write(f"{kind}_history", None, history)
    return dg.MaterializeResult(
        metadata=table_metadata(
            history,
            folder,
            device=run.device,
            train_seconds=round(run.seconds, 1),
            folds=run.folds,
            out_of_fold_roc_auc=round(run.out_of_fold_roc_auc, 4),
            out_of_fold_accuracy=round(run.out_of_fold_accuracy, 4),
        )
    )


@dg.asset(deps=[region_crops, asymmetry_classifier], group_name="deep_models", kinds={"pytorch"})
def full_face_cnn(
    context: dg.AssetExecutionContext, config: CnnConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """A small residual CNN on the whole aligned face, one per subject-grouped fold (state
    dicts, loaded with weights_only=True): the model that can learn dataset shortcuts."""
    return _train(context, "full_face_cnn", config, warehouse)


@dg.asset(deps=[region_crops, asymmetry_classifier], group_name="deep_models", kinds={"pytorch"})
def region_cnn(
    context: dg.AssetExecutionContext, config: CnnConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """The same family restricted to eye, nose and mouth crops, comparing each region with
    its mirrored partner through a shared encoder: it sees asymmetry, not appearance."""
    return _train(context, "region_cnn", config, warehouse)


class AuditConfig(dg.Config):
    dataset: str = Field(default=DEFAULT_AUDIT_DATASET, description="Labelled dataset partition")
    seed: int = Field(default=0, description="Seed of folds, counterfactuals and bootstrap")
    n_boot: int = Field(default=500, description="Bootstrap resamples (by subject) per interval")


@dg.asset(deps=[full_face_cnn, region_cnn], group_name="deep_models", kinds={"pytorch", "parquet"})
def shortcut_audit(
    config: AuditConfig, warehouse: WarehouseResource, landmarker: LandmarkerResource
) -> dg.MaterializeResult:
    """Each model (landmark geometry, full-face CNN, region CNN) on held-out subjects and on
    counterfactual copies that change lighting, background, compression, side or the
    asymmetry itself: a model that fails where only a nuisance changed learned a shortcut."""
    lake, key = warehouse.lake, config.dataset
    data = _audit_data(warehouse, key, config.seed)
    cnn = load_fold_models(warehouse.models_dir / "cnn" / key)
    audit = run_audit(data, cnn, landmarker.resolved_model(), config.seed, config.n_boot)
    path = lake.write("shortcut_audit", None, audit.table.with_columns(dataset=pl.lit(key)))
    lake.write("model_comparison", None, audit.comparison)
    lake.write("phase2_folds", None, data.fold_table().with_columns(dataset=pl.lit(key)))
    reports = warehouse.reports_dir(key)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "shortcut_audit.md").write_text(audit.summary_markdown)
    (reports / "shortcut_audit.png").write_bytes(audit.plot_png)
    (reports / "attribution.png").write_bytes(audit.attribution_png)
    return dg.MaterializeResult(
        metadata=table_metadata(
            audit.table,
            path,
            summary=dg.MetadataValue.md(audit.summary_markdown),
            comparison=dg.MetadataValue.md(markdown_table(audit.comparison, 30)),
            plot=dg.MetadataValue.md(inline_png(reports / "shortcut_audit.png", "shortcut audit")),
            attribution=dg.MetadataValue.md(
                inline_png(reports / "attribution.png", "where each model looks")
            ),
        )
    )
