"""`facesym analyze`: measure one image, one video or every file of a folder and print the
report, in words for a terminal or as one JSON object per file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from facesym_pipeline.lib.file_analysis import Analyzer
from facesym_pipeline.lib.store.fingerprints import list_files

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
    lines.append(f"    levels: {risk['calibration']}; limits: {risk['ranges']}")
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
