"""`facesym analyze` on a real image, a real video and a folder, as a researcher runs it."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from facesym_pipeline.apps.analyze import analyze_command
from facesym_pipeline.demo.samples import sample_path

pytestmark = pytest.mark.slow  # the command line in subprocesses, MediaPipe on every file

SCHEMA_KEYS = {
    "path",
    "kind",
    "status",
    "reason",
    "frames_analyzed",
    "features",
    "risk",
    "disclaimer",
}


def _run(path: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    # An empty warehouse: no normative ranges or risk model, so the uncalibrated rule on the
    # registry's default limits is used, and the report says so.
    env = {"FACESYM_WAREHOUSE": str(tmp_path / "wh"), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run(
        [sys.executable, "-m", "facesym_pipeline.apps.cli", "analyze", str(path), *flags],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )


def test_image_json_follows_the_schema(tmp_path, samples):
    out = _run(sample_path("obama.jpg"), tmp_path, "--json")
    report = json.loads(out.stdout)
    assert SCHEMA_KEYS <= set(report)
    assert report["kind"] == "image" and report["status"] == "ok"
    assert report["frames_analyzed"] == 1
    assert isinstance(report["features"]["mouth_corner_height_diff_mm"], float)
    risk = report["risk"]
    # The rule's score is the largest deviation in units of the healthy limit.
    assert risk["score"] >= 0.0 and risk["level"] in {"low", "elevated", "high"}
    assert risk["model"] == "rule" and risk["calibration"].startswith("uncalibrated")
    assert risk["ranges"].startswith("no normative ranges")
    assert "not a diagnosis" in report["disclaimer"]


def test_video_has_frames_and_a_temporal_summary(tmp_path, samples):
    report = json.loads(_run(sample_path("single_face.mp4"), tmp_path, "--json").stdout)
    assert report["kind"] == "video" and report["status"] == "ok"
    assert report["frames_analyzed"] == 12
    assert len(report["frames"]) == 12
    assert {"t_s", "passed", "mouth_corner_height_diff_mm"} <= set(report["frames"][0])
    assert report["temporal"]["trend_label"] in {
        "stable", "worsening", "improving", "insufficient_data"
    }  # fmt: skip
    assert report["features"]["mouth_excursion_left_mm"] > 1.0  # the person smiles


def test_human_readable_form_has_units_and_disclaimer(tmp_path, samples):
    text = _run(sample_path("biden.jpg"), tmp_path).stdout
    assert "mouth-corner height difference (L-R)" in text and " mm" in text
    assert "risk signal:" in text and "uncalibrated: registry default limits" in text
    assert "not a diagnosis" in text


def test_folder_gives_one_json_line_per_file_including_rejections(tmp_path, samples):
    folder = tmp_path / "mixed"
    folder.mkdir()
    shutil.copy(sample_path("obama.jpg"), folder / "a.jpg")
    (folder / "b.jpg").write_text("not an image")
    (folder / "c.txt").write_text("notes")
    buffer = io.StringIO()
    assert analyze_command(folder, as_json=True, out=buffer) == 0
    reports = [json.loads(line) for line in buffer.getvalue().splitlines()]
    by_name = {Path(r["path"]).name: r for r in reports}
    assert set(by_name) == {"a.jpg", "b.jpg", "c.txt"}
    assert by_name["a.jpg"]["status"] == "ok"
    assert by_name["b.jpg"] == by_name["b.jpg"] | {"status": "rejected", "reason": "not_an_image"}
    assert by_name["c.txt"]["reason"] == "unsupported_extension"


@pytest.mark.parametrize("name", ["multi_face.jpg"])
def test_unusable_picture_is_rejected_with_the_quality_reason(tmp_path, samples, name):
    report = json.loads(_run(sample_path(name), tmp_path, "--json").stdout)
    assert report["status"] == "rejected"
    assert "multiple_faces" in report["reason"]
