import dagster as dg
import polars as pl
from pydantic import Field

from facesym_pipeline.defs.features.assets import (
    functional_features,
    media_features,
    symmetry_features,
)
from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.metadata import skipped_results, table_metadata, table_spec
from facesym_pipeline.defs.quality.assets import frame_quality
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.classify.population_tables import load_population, population_media
from facesym_pipeline.lib.classify.risk import RISK_MODEL_SCHEMA, RiskModel
from facesym_pipeline.lib.measure.normative import NORMATIVE_SCHEMA, fit_normative_ranges
from facesym_pipeline.lib.measure.reference_split import FIT, INJECTED_DATASET, REFERENCE_DATASET
from facesym_pipeline.lib.media.labels import read_labels_table
from facesym_pipeline.lib.render.markdown import inline_png, markdown_table
from facesym_pipeline.lib.render.validity_plot import validity_plot


class ReferenceConfig(dg.Config):
    reference: str = Field(
        default=REFERENCE_DATASET, description="Dataset partition of the healthy reference people"
    )
    injected: str = Field(
        default=INJECTED_DATASET,
        description="Dataset partition of the same people with injected asymmetry",
    )
    seed: int = Field(default=0, description="Seed of bootstrap resampling and folds")


def _labels(warehouse: WarehouseResource, key: str) -> pl.DataFrame | None:
    try:
        return read_labels_table(warehouse.dataset_folder(key))
    except FileNotFoundError:
        return None


@dg.asset(
    deps=[symmetry_features, functional_features, media_inventory],
    group_name="normative",
    kinds={"parquet"},
)
def healthy_ranges(config: ReferenceConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """How asymmetric real, unaffected people are: per measure, expression (neutral or
    smile) and |yaw| bin, percentiles of |value| with people-resampled intervals, fitted on
    the fit people of the reference population only."""
    frames = load_population(warehouse.lake, config.reference, None)
    fit = (
        None if frames is None else frames.filter((pl.col("split") == FIT) & (pl.col("label") == 0))
    )
    table = (
        fit_normative_ranges(fit, seed=config.seed)
        if fit is not None and fit.height
        else pl.DataFrame(schema=NORMATIVE_SCHEMA)
    )
    path = warehouse.lake.write("healthy_ranges", None, table)
    extra = {}
    if table.height == 0:
        extra["skipped"] = (
            f"no analysed fit people in dataset {config.reference!r}: every limit is the "
            "registry's documented default (run `facesym demo-data` to build the population)"
        )
    else:
        extra["fit_people"] = int(fit["subject_id"].n_unique())
    return dg.MaterializeResult(metadata=table_metadata(table, path, **extra))


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "risk_model",
            deps=[healthy_ranges, symmetry_features, functional_features, media_inventory],
            description="The risk signal's scorer and its levels, calibrated on the normative "
            "population: a rule and a logistic model over deviations from the healthy ranges, "
            "the better one on held-out people kept (stored as plain numbers, loadable "
            "without running code).",
            kinds={"parquet", "scikitlearn"},
        ),
        table_spec(
            "risk_model_scores",
            "risk_model",
            "Out-of-fold risk scores of every fit image (originals and injected "
            "variants), per candidate method.",
        ),
        table_spec(
            "risk_model_comparison",
            "risk_model",
            "Rule against logistic model: grouped cross-validated ranking and "
            "false-alarm rates, and which one was kept.",
        ),
    ],
    group_name="normative",
)
def risk_model(
    context: dg.AssetExecutionContext, config: ReferenceConfig, warehouse: WarehouseResource
):
    from facesym_pipeline.lib.classify.risk_fit import fit_risk, why_not_fittable

    lake = warehouse.lake
    ranges = lake.read_optional("healthy_ranges")
    frames = load_population(lake, config.injected, _labels(warehouse, config.injected))
    media = None if frames is None else population_media(frames, ranges)
    reason = why_not_fittable(media)
    if reason is not None:
        lake.write("risk_model", None, pl.DataFrame(schema=RISK_MODEL_SCHEMA))
        yield from skipped_results(
            context, reason + "; `facesym analyze` uses the uncalibrated rule"
        )
        return
    fit = fit_risk(media, seed=config.seed)
    tables = {
        "risk_model": fit.chosen.to_table(),
        "risk_model_scores": fit.scores,
        "risk_model_comparison": fit.comparison,
    }
    paths = {name: lake.write(name, None, table) for name, table in tables.items()}
    yield dg.MaterializeResult(
        asset_key="risk_model",
        metadata=table_metadata(
            tables["risk_model"],
            paths["risk_model"],
            method=fit.chosen.method,
            elevated_at=fit.chosen.elevated_at,
            high_at=fit.chosen.high_at,
            comparison=dg.MetadataValue.md(markdown_table(fit.comparison, 20)),
        ),
    )
    for name in ("risk_model_scores", "risk_model_comparison"):
        yield dg.MaterializeResult(
            asset_key=name, metadata=table_metadata(tables[name], paths[name])
        )


@dg.asset(
    deps=[
        dg.AssetKey("risk_model"),
        healthy_ranges,
        symmetry_features,
        functional_features,
        media_features,
        frame_quality,
        media_inventory,
    ],  # fmt: skip
    group_name="normative",
    kinds={"parquet", "matplotlib"},
)
def validity_report(config: ReferenceConfig, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """How far the risk signal and the instrument hold, on held-out people only:
    false-alarm rates by level, ranking AUC by injected size and renderer, calibration per
    renderer, spread across pose in real videos and rejection rates, with intervals."""
    # scikit-learn loads in the steps that fit and validate, not in every process.
    from facesym_pipeline.lib.classify.validity import (
        VALIDITY_SCHEMA,
        calibration_by_person,
        quality_by_person,
        validity_rows,
    )

    lake = warehouse.lake
    ranges = lake.read_optional("healthy_ranges")
    stored = lake.read_optional("risk_model")
    reference = load_population(lake, config.reference, None)
    if stored is None or stored.height == 0 or reference is None:
        path = lake.write("validity_report", None, pl.DataFrame(schema=VALIDITY_SCHEMA))
        return dg.MaterializeResult(
            metadata={"dagster/row_count": 0, "path": dg.MetadataValue.path(str(path)),
                      "skipped": f"no calibrated risk model or no analysed {config.reference!r} "
                                 "dataset: nothing to validate"}
        )  # fmt: skip
    model = RiskModel.from_table(stored)
    labels = _labels(warehouse, config.injected)
    injected = load_population(lake, config.injected, labels)
    injected_media = None if injected is None else population_media(injected, ranges)
    calibration = None
    if injected is not None and labels is not None:
        calibration = calibration_by_person(lake.read("media_features", config.injected), labels)
    quality = quality_by_person(
        lake.read("frame_quality", config.reference),
        lake.read("media_inventory", config.reference),
    )
    table = validity_rows(reference, population_media(reference, ranges), injected_media,
                          calibration, quality, model, config.seed)  # fmt: skip
    path = lake.write("validity_report", None, table)
    png = validity_plot(table, warehouse.reports_dir(config.reference) / "validity.png")
    return dg.MaterializeResult(
        metadata=table_metadata(
            table,
            path,
            report=dg.MetadataValue.md(markdown_table(table, 80)),
            plot=dg.MetadataValue.md(inline_png(png, "validity on held-out people")),
            method=model.method,
        )
    )
