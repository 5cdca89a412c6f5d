"""`facesym analyze`: measure one image, one video or every file of a folder without the
Dagster UI, with a research risk signal. Never a diagnosis."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import polars as pl

from facesym_pipeline.lib.feature_tables import (
    functional_table,
    media_feature_table,
    passed_frames,
    still_media,
    symmetry_table,
)
from facesym_pipeline.lib.fingerprint import list_files
from facesym_pipeline.lib.inventory import inventory_for_file
from facesym_pipeline.lib.landmark_table import landmark_rows
from facesym_pipeline.lib.landmarker import LandmarkSession, MediaTask
from facesym_pipeline.lib.model_file import resolve_model
from facesym_pipeline.lib.model_store import latest_model, load_model
from facesym_pipeline.lib.paths import warehouse_root
from facesym_pipeline.lib.quality import QualityThresholds, judge_frames
from facesym_pipeline.lib.risk import risk_signal
from facesym_pipeline.lib.sampling import sample_frames
from facesym_pipeline.lib.temporal.html_report import DISCLAIMER
from facesym_pipeline.lib.training_data import with_magnitudes

# What the human-readable form prints, in this order (the JSON carries every feature).
MAIN_MEASURES = (
    ("mouth_corner_height_diff_mm", "mm", "mouth-corner height difference (L-R)"),
    ("mouth_tilt_deg", "deg", "mouth tilt"),
    ("eye_opening_diff_mm", "mm", "eye-opening difference (L-R)"),
    ("mrd1_diff_mm", "mm", "MRD1 difference (L-R)"),
    ("brow_height_diff_mm", "mm", "brow-height difference (L-R)"),
    ("nose_tip_midline_mm", "mm", "nose tip from midline"),
    ("nasal_bridge_deviation_deg", "deg", "nasal-bridge deviation"),
    ("lower_face_asymmetry", "", "lower-face asymmetry score"),
    ("upper_face_asymmetry", "", "upper-face asymmetry score"),
    ("forehead_sparing_index", "", "forehead-sparing index"),
    ("mouth_rom_ratio", "", "mouth range of motion, weaker/stronger"),
)
FRAME_MEASURES = ("mouth_corner_height_diff_mm", "eye_opening_diff_mm", "brow_height_diff_mm")


class Analyzer:
    """Holds one landmark session and the latest model for a series of files."""

    def __init__(self, models_dir: Path | None = None, sample_fps: float = 5.0):
        self.session = LandmarkSession(resolve_model())
        self.sample_fps = sample_fps
        self.model = self.model_record = None
        record = latest_model(models_dir or warehouse_root() / "models")
        if record is not None:
            self.model, self.model_record = load_model(
                models_dir or warehouse_root() / "models", record.model_id
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
        report["risk"] = self._risk(media)
        if row["kind"] == "video":
            report["frames"] = _frame_rows(quality, symmetry)
            report["temporal"] = _temporal_summary(symmetry, functional, inventory)
        return report

    def _risk(self, media: pl.DataFrame) -> dict:
        values = with_magnitudes(media).row(0, named=True)
        if self.model is None:
            return risk_signal(values)
        return risk_signal(
            values, self.model, self.model_record.feature_cols, model_id=self.model_record.model_id
        )


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


def _temporal_summary(symmetry, functional, inventory) -> dict:
    from facesym_pipeline.lib.temporal.inputs import video_frames
    from facesym_pipeline.lib.temporal.report import build_temporal_trends
    from facesym_pipeline.lib.temporal.series import build_temporal_series

    series = build_temporal_series(video_frames(symmetry, functional, inventory))
    trends, _ = build_temporal_trends(series)
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


def render_text(report: dict) -> str:
    lines = [f"{report['path']}  [{report['kind'] or 'unknown kind'}]"]
    if report["status"] != "ok":
        lines.append(f"  rejected: {report['reason']}")
        lines.append(f"  {report['disclaimer']}")
        return "\n".join(lines)
    lines.append(
        f"  frames analysed: {report['frames_analyzed']} (passed quality: {report['frames_passed']})"
    )
    features = report["features"]
    for name, unit, words in MAIN_MEASURES:
        value = features.get(name)
        if value is not None:
            lines.append(f"  {words:42s} {value:8.2f} {unit}")
    risk = report["risk"]
    lines.append(f"  risk signal: {risk['level']} (score {risk['score']:.2f}, {risk['model']})")
    lines += [f"    - {reason}" for reason in risk["reasons"]]
    if "temporal" in report:
        t = report["temporal"]
        lines.append(f"  trend over time: {t.get('trend_label')} (risk {t.get('risk_level')})")
        if t.get("reasons"):
            lines.append(f"    {t['reasons']}")
    lines.append(f"  {report['disclaimer']}")
    return "\n".join(lines)


def analyze_command(path: Path, as_json: bool = False, out=sys.stdout) -> int:
    files = list_files(path) if path.is_dir() else [path]
    if not path.exists():
        print(f"no such file or folder: {path}", file=sys.stderr)
        return 2
    analyzer = Analyzer()
    try:
        for file in files:
            report = analyzer.analyze(file)
            print(json.dumps(report) if as_json else render_text(report), file=out)
    finally:
        analyzer.close()
    return 0
