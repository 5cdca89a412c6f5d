import shutil

import dagster as dg
import polars as pl
from pydantic import Field

from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.landmarks.assets import face_landmarks
from facesym_pipeline.defs.metadata import skipped_results, table_metadata, table_spec
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.progress import progress
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.resources import LandmarkerResource, WarehouseResource
from facesym_pipeline.lib.audit.auditable import why_not_auditable
from facesym_pipeline.lib.image_models.crop_pass import crops_for_dataset
from facesym_pipeline.lib.image_models.crops import CROP_INDEX_SCHEMA
from facesym_pipeline.lib.measure.reference_split import NORMATIVE_DATASETS
from facesym_pipeline.lib.media.labels import read_labels_table
from facesym_pipeline.lib.render.markdown import inline_png, markdown_table

# What the image models read besides their crops: the labelled stills and their landmarks.
_STILLS = [media_inventory, face_landmarks, frame_quality]


class AuditScopeConfig(dg.Config):
    exclude: list[str] = Field(
        default_factory=lambda: list(NORMATIVE_DATASETS),
        description="Partitions never audited: the normative population's injected "
        "variants are not stroke labels, and its photos need no derived crops",
    )


def _why_not(key: str, scope: AuditScopeConfig, warehouse: WarehouseResource) -> str | None:
    lake = warehouse.lake
    return why_not_auditable(
        lake.read("media_inventory", key),
        lake.read("frame_quality", key),
        excluded=key in scope.exclude,
    )


@dg.asset(
    partitions_def=dataset_partitions,
    deps=_STILLS,
    group_name="deep_models",
    kinds={"png", "parquet"},
)
def region_crops(
    context: dg.AssetExecutionContext, config: AuditScopeConfig, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Aligned face, eye, nose and mouth crops (and mirrored partners) of every passed
    labelled still, as PNG files under warehouse/crops/<dataset>/ with an index table. They
    contain face pixels: derived data, safe to delete, rebuilt by materialising this asset."""
    key = context.partition_key
    lake = warehouse.lake
    out_dir = warehouse.crops_dir(key)
    shutil.rmtree(out_dir, ignore_errors=True)
    reason = _why_not(key, config, warehouse)
    if reason is not None:
        empty = pl.DataFrame(schema=CROP_INDEX_SCHEMA).with_columns(dataset=pl.lit(key))
        path = lake.write("region_crops", key, empty)
        return dg.MaterializeResult(metadata=table_metadata(empty, path, skipped=reason))
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


class CnnConfig(AuditScopeConfig):
    epochs: int = Field(default=25, description="Most epochs per fold (early stopping)")
    batch_size: int = Field(default=16, description="Images per step")
    seed: int = Field(default=0, description="Seed of folds, initialisation and batches")
    device: str = Field(default="auto", description="auto (CUDA when available) | cpu | cuda")
    threads: int = Field(default=2, description="CPU threads for torch")


def _audit_data(warehouse: WarehouseResource, key: str, seed: int):
    """The labelled stills of `key` with the same subject-grouped folds for every model."""
    from facesym_pipeline.lib.audit.audit_data import audit_data

    lake, folder = warehouse.lake, warehouse.dataset_folder(key)
    return audit_data(
        folder,
        lake.read("media_inventory", key),
        lake.read("face_landmarks", key),
        lake.read("frame_quality", key),
        read_labels_table(folder),
        seed=seed,
    )


def _train(context: dg.AssetExecutionContext, kind: str, config: CnnConfig, warehouse):
    # torch is imported by the steps that train, not by every process loading the code.
    from facesym_pipeline.lib.audit.fold_training import train_cnn_folds
    from facesym_pipeline.lib.image_models.datasets import crop_arrays_from_index
    from facesym_pipeline.lib.image_models.train import TrainConfig, epoch_line

    lake, key = warehouse.lake, context.partition_key
    folder = warehouse.models_dir / "cnn" / key / kind
    reason = _why_not(key, config, warehouse)
    if reason is not None:
        shutil.rmtree(folder, ignore_errors=True)
        lake.write(f"{kind}_history", key, pl.DataFrame(schema={"dataset": pl.String}))
        yield from skipped_results(context, reason)
        return
    data = _audit_data(warehouse, key, config.seed)
    arrays = crop_arrays_from_index(
        lake.read("region_crops", key), warehouse.crops_dir(key),
        [s.meta["media_id"] for s in data.samples],
    )  # fmt: skip
    settings = TrainConfig(
        epochs=config.epochs, batch_size=config.batch_size, seed=config.seed,
        num_threads=config.threads, device=config.device,
    )  # fmt: skip

    # At most `epochs` per fold; early stopping ends a fold sooner.
    most_epochs = (int(data.folds.max()) + 1) * config.epochs
    epochs_done = 0
    with progress(context, f"[{key}] {kind} (epochs, at most)", "epoch") as report:

        def log(epoch):
            nonlocal epochs_done
            epochs_done += 1
            report(epochs_done, most_epochs)
            context.log.debug(epoch_line(kind, epoch))

        run = train_cnn_folds(kind, data, arrays, settings, folder, on_epoch=log)
    history = run.history.with_columns(dataset=pl.lit(key))
    path = lake.write(f"{kind}_history", key, history)
    yield dg.MaterializeResult(
        asset_key=kind,
        metadata={
            "path": dg.MetadataValue.path(str(folder)),
            "device": run.device,
            "train_seconds": round(run.seconds, 1),
            "folds": run.folds,
            "out_of_fold_roc_auc": round(run.out_of_fold_roc_auc, 4),
            "out_of_fold_accuracy": round(run.out_of_fold_accuracy, 4),
        },
    )
    yield dg.MaterializeResult(asset_key=f"{kind}_history", metadata=table_metadata(history, path))


def _history_spec(kind: str) -> dg.AssetSpec:
    return table_spec(
        f"{kind}_history",
        kind,
        f"Training and validation loss and accuracy of the {kind} per fold and epoch.",
    )


_CNN_DEPS = [region_crops, *_STILLS]


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "full_face_cnn",
            deps=_CNN_DEPS,
            description="A small residual CNN on the whole aligned face, one per "
            "subject-grouped fold (state dicts, loaded with weights_only=True): the model "
            "that can learn dataset shortcuts.",
            kinds={"pytorch"},
        ),
        _history_spec("full_face_cnn"),
    ],
    partitions_def=dataset_partitions,
    group_name="deep_models",
)
def full_face_cnn(
    context: dg.AssetExecutionContext, config: CnnConfig, warehouse: WarehouseResource
):
    yield from _train(context, "full_face_cnn", config, warehouse)


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "region_cnn",
            deps=_CNN_DEPS,
            description="The same family restricted to eye, nose and mouth crops, comparing "
            "each region with its mirrored partner through a shared encoder: it sees "
            "asymmetry, not appearance.",
            kinds={"pytorch"},
        ),
        _history_spec("region_cnn"),
    ],
    partitions_def=dataset_partitions,
    group_name="deep_models",
)
def region_cnn(context: dg.AssetExecutionContext, config: CnnConfig, warehouse: WarehouseResource):
    yield from _train(context, "region_cnn", config, warehouse)


class AuditConfig(AuditScopeConfig):
    seed: int = Field(default=0, description="Seed of folds, counterfactuals and bootstrap")
    n_boot: int = Field(default=500, description="Bootstrap resamples (by subject) per interval")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "shortcut_audit",
            deps=[dg.AssetKey("full_face_cnn"), dg.AssetKey("region_cnn"), *_STILLS],
            description="Each model (landmark geometry, full-face CNN, region CNN) on held-out "
            "subjects and on counterfactual copies that change lighting, background, "
            "compression, side or the asymmetry itself: a model that fails where only a "
            "nuisance changed learned a shortcut.",
            kinds={"pytorch", "parquet"},
        ),
        table_spec(
            "model_comparison",
            "shortcut_audit",
            "The three models side by side per test set: accuracy and ROC AUC with "
            "subject-bootstrap intervals, and the drop from in-distribution.",
        ),
        table_spec(
            "audit_folds",
            "shortcut_audit",
            "Which subject-grouped fold held out each audited image: the same "
            "folds for every model.",
        ),
    ],
    partitions_def=dataset_partitions,
    group_name="deep_models",
)
def shortcut_audit(
    context: dg.AssetExecutionContext,
    config: AuditConfig,
    warehouse: WarehouseResource,
    landmarker: LandmarkerResource,
):
    from facesym_pipeline.lib.audit.fold_training import load_fold_models
    from facesym_pipeline.lib.audit.model_comparison import run_audit

    lake, key = warehouse.lake, context.partition_key
    reason = _why_not(key, config, warehouse)
    if reason is not None:
        yield from skipped_results(context, reason)
        return
    data = _audit_data(warehouse, key, config.seed)
    cnn = load_fold_models(warehouse.models_dir / "cnn" / key)
    audit = run_audit(data, cnn, landmarker.resolved_model(), config.seed, config.n_boot)
    tagged = {
        "shortcut_audit": audit.table.with_columns(dataset=pl.lit(key)),
        "model_comparison": audit.comparison.with_columns(dataset=pl.lit(key)),
        "audit_folds": data.fold_table().with_columns(dataset=pl.lit(key)),
    }
    paths = {name: lake.write(name, key, table) for name, table in tagged.items()}
    reports = warehouse.reports_dir(key)
    reports.mkdir(parents=True, exist_ok=True)
    (reports / "shortcut_audit.md").write_text(audit.summary_markdown)
    (reports / "shortcut_audit.png").write_bytes(audit.plot_png)
    (reports / "attribution.png").write_bytes(audit.attribution_png)
    yield dg.MaterializeResult(
        asset_key="shortcut_audit",
        metadata=table_metadata(
            tagged["shortcut_audit"],
            paths["shortcut_audit"],
            summary=dg.MetadataValue.md(audit.summary_markdown),
            plot=dg.MetadataValue.md(inline_png(reports / "shortcut_audit.png", "shortcut audit")),
            attribution=dg.MetadataValue.md(
                inline_png(reports / "attribution.png", "where each model looks")
            ),
        ),
    )
    yield dg.MaterializeResult(
        asset_key="model_comparison",
        metadata=table_metadata(
            tagged["model_comparison"],
            paths["model_comparison"],
            comparison=dg.MetadataValue.md(markdown_table(audit.comparison, 30)),
        ),
    )
    yield dg.MaterializeResult(
        asset_key="audit_folds",
        metadata=table_metadata(tagged["audit_folds"], paths["audit_folds"]),
    )
