import dagster as dg
import polars as pl
from pydantic import Field

from facesym_pipeline.defs.features.assets import functional_features, symmetry_features
from facesym_pipeline.defs.ingest.assets import media_inventory
from facesym_pipeline.defs.metadata import table_metadata, table_spec
from facesym_pipeline.defs.normative.assets import healthy_ranges
from facesym_pipeline.defs.partitions import dataset_partitions
from facesym_pipeline.defs.resources import WarehouseResource
from facesym_pipeline.lib.measure.normative import pooled_limits
from facesym_pipeline.lib.render.markdown import markdown_table
from facesym_pipeline.lib.render.trend_report_files import (
    trend_plots_markdown,
    write_trend_reports,
)
from facesym_pipeline.lib.temporal.inputs import labelled_videos, video_frames
from facesym_pipeline.lib.temporal.series import build_temporal_series, per_second
from facesym_pipeline.lib.temporal.video_trends import build_temporal_trends


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "temporal_series",
            deps=[symmetry_features, functional_features, media_inventory],
            description="Each video's measures on a uniform time base: quality gaps kept as "
            "gaps, outliers replaced by a Hampel filter and smoothed with windows in seconds.",
            kinds={"parquet", "polars"},
        ),
        table_spec(
            "temporal_series_per_second",
            "temporal_series",
            "The same series aggregated per second of video (median, spread and "
            "share of analysable frames).",
            kinds=("parquet", "polars"),
        ),
    ],
    partitions_def=dataset_partitions,
    group_name="temporal",
)
def temporal_series(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    key = context.partition_key
    lake = warehouse.lake
    frames = video_frames(
        lake.read("symmetry_features", key),
        lake.read("functional_features", key),
        lake.read("media_inventory", key),
    )
    series = build_temporal_series(frames).with_columns(dataset=pl.lit(key))
    path = lake.write("temporal_series", key, series)
    seconds = per_second(series).with_columns(dataset=pl.lit(key))
    seconds_path = lake.write("temporal_series_per_second", key, seconds)
    yield dg.MaterializeResult(
        asset_key="temporal_series",
        metadata=table_metadata(series, path, videos=series["media_id"].n_unique()),
    )
    yield dg.MaterializeResult(
        asset_key="temporal_series_per_second", metadata=table_metadata(seconds, seconds_path)
    )


@dg.asset(
    partitions_def=dataset_partitions,
    deps=[dg.AssetKey("temporal_series"), healthy_ranges, media_inventory],
    group_name="temporal",
    kinds={"parquet", "html"},
)
def temporal_trends(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Per video and face region: time beyond the healthy range, longest run, robust slope
    with its interval and onset, a trend label and a risk level with reasons in words; plus
    a plot per video and an HTML report of the dataset."""
    key = context.partition_key
    lake = warehouse.lake
    series = lake.read("temporal_series", key)
    ranges = lake.read_optional("healthy_ranges")
    thresholds = pooled_limits(ranges)
    trends, analyses = build_temporal_trends(series.drop("dataset"), thresholds)
    names = lake.read("media_inventory", key).select("media_id", "relpath").unique("media_id")
    if trends.height:
        trends = trends.join(names, on="media_id", how="left").with_columns(dataset=pl.lit(key))
    path = lake.write("temporal_trends", key, trends)
    html, pngs = write_trend_reports(key, series, trends, analyses, warehouse.reports_dir(key))
    return dg.MaterializeResult(
        metadata=table_metadata(
            trends,
            path,
            report=dg.MetadataValue.path(str(html)),
            thresholds=dg.MetadataValue.json(thresholds),
            thresholds_source="normative population"
            if ranges is not None and ranges.height
            else "registry defaults (no normative ranges)",
            summary=dg.MetadataValue.md(
                markdown_table(
                    trends,
                    20,
                    [
                        c
                        for c in ("relpath", "trend_label", "risk_level", "onset_s")
                        if c in trends.columns
                    ],
                )
            ),
            plots=dg.MetadataValue.md(trend_plots_markdown(trends, pngs, html)),
        )
    )


class SequenceModelConfig(dg.Config):
    seed: int = Field(default=0, description="Seed of folds, initialisation and bootstrap")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "sequence_model",
            deps=[dg.AssetKey("temporal_series"), temporal_trends, media_inventory],
            description="A small temporal-convolution classifier over each video's per-frame "
            "measures, trained on every labelled video (state dict, weights_only=True).",
            kinds={"pytorch"},
        ),
        table_spec(
            "sequence_model_comparison",
            "sequence_model",
            "The sequence model against the rule-based detector on subjects "
            "neither has seen (leave one subject out), with subject-bootstrap intervals.",
        ),
        table_spec(
            "sequence_model_predictions",
            "sequence_model",
            "Each labelled video's held-out score from the sequence model and the rules' decision.",
        ),
    ],
    group_name="models",
)
def sequence_model(config: SequenceModelConfig, warehouse: WarehouseResource):
    # torch is imported by this step only, not by every process that loads the code.
    from facesym_pipeline.lib.temporal.sequence_eval import (
        COMPARISON_SCHEMA,
        PER_VIDEO_SCHEMA,
        compare_sequence_vs_rules,
        train_final_model,
        why_not_comparable,
    )

    lake = warehouse.lake
    series = lake.read_all("temporal_series")
    trends = lake.read_all("temporal_trends")
    labels = labelled_videos(lake.read_all("media_inventory"))
    model_path = warehouse.models_dir / "sequence" / "sequence_model.pt"
    reason = why_not_comparable(series, trends, labels)
    if reason is not None:
        # Nothing to learn from is an outcome, not a failure: the catalog still gets built.
        model_path.unlink(missing_ok=True)
        comparison = pl.DataFrame(schema=COMPARISON_SCHEMA)
        per_video = pl.DataFrame(schema=PER_VIDEO_SCHEMA)
        extra = {"skipped": reason}
    else:
        # Neither method may have seen the held-out person: thresholds and rule decisions
        # are re-derived inside each fold from the training subjects only.
        comparison, details = compare_sequence_vs_rules(
            series, trends, labels, seed=config.seed, refit_rules=True
        )
        per_video = details.per_video
        model_path.parent.mkdir(parents=True, exist_ok=True)
        train_final_model(series, labels, model_path, seed=config.seed)
        extra = {"videos": per_video.height, "rule": details.rule}
    comparison_path = lake.write("sequence_model_comparison", None, comparison)
    per_video_path = lake.write("sequence_model_predictions", None, per_video)
    yield dg.MaterializeResult(
        asset_key="sequence_model",
        metadata={"path": dg.MetadataValue.path(str(model_path)), **extra},
    )
    yield dg.MaterializeResult(
        asset_key="sequence_model_comparison",
        metadata=table_metadata(comparison, comparison_path),
    )
    yield dg.MaterializeResult(
        asset_key="sequence_model_predictions",
        metadata=table_metadata(per_video, per_video_path),
    )
