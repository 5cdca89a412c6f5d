"""Measuring one image or video end to end without Dagster or a warehouse (what
`facesym analyze` runs): the pipeline's own inventory, sampling, landmark pass, quality
judge and feature tables on that file, the temporal summary of a video, and a research risk
signal calibrated on the normative population (the warehouse's latest `healthy_ranges`
and `risk_model`; documented defaults, said so in the report, when there are none). Never a
diagnosis; the report is a plain dict
(the JSON `facesym analyze --json` prints)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import polars as pl

from facesym_pipeline.lib.classify.risk import (
    DEFAULT_RISK_MODEL,
    RISK_MEASURES,
    RiskModel,
    media_deviations,
    risk_signal,
)
from facesym_pipeline.lib.face.landmark_table import landmark_rows
from facesym_pipeline.lib.face.landmarker import LandmarkSession, MediaTask
from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.native_log import NATIVE_LOG_ENV
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames, passed_frames
from facesym_pipeline.lib.measure.feature_tables import (
    frame_features,
    functional_table,
    media_feature_table,
    still_media,
    symmetry_table,
)
from facesym_pipeline.lib.measure.normative import deviations, pooled_limits
from facesym_pipeline.lib.media.inventory import inventory_for_file
from facesym_pipeline.lib.media.sampling import sample_frames
from facesym_pipeline.lib.paths import warehouse_root
from facesym_pipeline.lib.store.lake import Lake
from facesym_pipeline.lib.temporal.html_report import DISCLAIMER

FRAME_MEASURES = ("mouth_corner_height_diff_mm", "eye_opening_diff_mm", "brow_height_diff_mm")


class Analyzer:
    """Holds one landmark session and the latest model for a series of files."""

    def __init__(self, warehouse_dir: Path | None = None, sample_fps: float = 5.0):
        warehouse_dir = warehouse_dir or warehouse_root()
        # MediaPipe's native log lines go to a file (FACESYM_NATIVE_LOG, else
        # <warehouse>/logs/native.log), not into the report on the terminal.
        native_log = None if os.environ.get(NATIVE_LOG_ENV) else warehouse_dir / "logs/native.log"
        self.session = LandmarkSession(resolve_model(), native_log=native_log)
        self.sample_fps = sample_fps
        lake = Lake.in_warehouse(warehouse_dir)
        # An empty table is a fit that had no population: the fallbacks apply.
        self.ranges = _non_empty(lake.read_optional("healthy_ranges"))
        stored = _non_empty(lake.read_optional("risk_model"))
        self.risk_model = DEFAULT_RISK_MODEL if stored is None else RiskModel.from_table(stored)
        self.calibration = (
            "normative ranges of the reference population"
            if self.ranges is not None
            else "no normative ranges in the warehouse: registry default limits"
        )

    def close(self) -> None:
        self.session.close()

    def analyze(self, path: Path) -> dict[str, Any]:
        inventory = inventory_for_file(path)
        row = inventory.row(0, named=True)
        report: dict[str, Any] = {
            "path": str(path),
            "kind": row["kind"] if row["kind"] in ("image", "video") else None,
            "status": "ok",
            "reason": None,
            "frames_analyzed": 0,
            "features": {},
            "risk": None,
            "disclaimer": DISCLAIMER,
        }
        if row["status"] != "ok":
            return report | {"status": "rejected", "reason": row["reason"]}
        frames = sample_frames(inventory, self.sample_fps)
        planned = {row["media_id"]: list(frames.select("frame_index", "t_s").iter_rows())}
        task = MediaTask(row["media_id"], str(path), row["kind"], planned[row["media_id"]])
        landmarks = landmark_rows("adhoc", self.session.analyse([task]), planned)
        quality = judge_frames(landmarks, QualityThresholds())
        passed = passed_frames(landmarks, quality)
        report["frames_analyzed"] = landmarks.height
        report["frames_passed"] = passed.height
        if passed.height == 0:
            reasons = sorted({r for rs in quality["reasons"].to_list() for r in rs})
            return report | {
                "status": "rejected",
                "reason": "no usable frame: " + ", ".join(reasons),
            }
        symmetry = symmetry_table(passed, still_media(inventory))
        functional = functional_table(passed, symmetry)
        media = media_feature_table(symmetry, functional, inventory)
        features = _clean(
            media.drop("dataset", "media_id", "relpath", "label", "subject_id", "phash").row(
                0, named=True
            )
        )
        report["features"] = features
        report["risk"] = self._risk(symmetry, functional)
        if row["kind"] == "video":
            report["frames"] = _frame_rows(quality, symmetry)
            report["temporal"] = _temporal_summary(
                symmetry, functional, inventory, pooled_limits(self.ranges)
            )
        return report

    def _risk(self, symmetry: pl.DataFrame, functional: pl.DataFrame) -> dict:
        devs = deviations(frame_features(symmetry, functional), self.ranges, RISK_MEASURES)
        per_media = media_deviations(devs.drop("dataset", strict=False)).row(0, named=True)
        values = devs.select(
            pl.col(m).cast(pl.Float64).fill_nan(None).median() for m in RISK_MEASURES
            if m in devs.columns
        ).row(0, named=True)  # fmt: skip
        return risk_signal(values, per_media, self.risk_model) | {"ranges": self.calibration}


def _clean(values: dict) -> dict:
    out = {}
    for k, v in values.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = round(v, 4) if isinstance(v, float) else v
    return out


def _frame_rows(quality: pl.DataFrame, symmetry: pl.DataFrame) -> list[dict]:
    joined = quality.select("frame_index", "t_s", "passed", "reasons").join(
        symmetry.select("frame_index", *FRAME_MEASURES), on="frame_index", how="left"
    )
    return [_clean(r) for r in joined.sort("frame_index").iter_rows(named=True)]


def _temporal_summary(symmetry, functional, inventory, thresholds: dict[str, float]) -> dict:
    from facesym_pipeline.lib.temporal.inputs import video_frames
    from facesym_pipeline.lib.temporal.series import build_temporal_series
    from facesym_pipeline.lib.temporal.video_trends import build_temporal_trends

    series = build_temporal_series(video_frames(symmetry, functional, inventory))
    trends, _ = build_temporal_trends(series, thresholds)
    if trends.is_empty():
        return {"trend_label": "insufficient_data"}
    row = trends.row(0, named=True)
    keep = (
        "duration_s",
        "observed_s",
        "trend_label",
        "risk_level",
        "onset_s",
        "forehead_sparing",
        "reasons",
    )
    return _clean({k: row.get(k) for k in keep})


def _non_empty(frame: pl.DataFrame | None) -> pl.DataFrame | None:
    return frame if frame is not None and frame.height else None
