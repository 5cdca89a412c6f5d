"""MediaPipe's native (C++) log lines stay out of the terminal and land in the log file, in
the process that runs the landmarker and in the landmark pass's worker processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.face.native_log import native_logs_to

NATIVE_MARKERS = (
    "face_landmarker_graph.cc",
    "inference_feedback_manager.cc",
    "XNNPACK",
    "W0000",
    "before InitGoogle",
    "absl::InitializeLog",
)

SCRIPT = textwrap.dedent(
    """
    import sys
    from facesym_pipeline.lib.face.landmarker import (
        LandmarkSession, MediaTask, create_landmarker, frame_result, run_landmark_pass,
        to_mp_image,
    )
    from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
    from facesym_pipeline.lib.media.decode import load_image_rgb

    if __name__ == "__main__":
        faces = sys.argv[1:]
        model = resolve_model()
        rgb = load_image_rgb(faces[0])
        with create_landmarker(model) as landmarker:
            result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0)
        print("PYTHON-STDERR create_landmarker", result.status, file=sys.stderr)
        tasks = [MediaTask(str(i), face, "image", [(0, 0.0)]) for i, face in enumerate(faces)]
        with LandmarkSession(model) as session:  # with the hand detector
            statuses = [r.frames[0].status for r in session.analyse(tasks)]
        print("PYTHON-STDERR session", *statuses, file=sys.stderr)
        pooled = run_landmark_pass(tasks, model, workers=2, hands=False)
        print("PYTHON-STDERR pool", *[r.frames[0].status for r in pooled], file=sys.stderr)
    """
)


@pytest.mark.slow
def test_native_lines_go_to_the_log_file_not_the_terminal(tmp_path: Path):
    script = tmp_path / "detect.py"
    script.write_text(SCRIPT)
    log = tmp_path / "logs" / "native.log"
    env = os.environ | {"FACESYM_NATIVE_LOG": str(log)}
    faces = [str(sample_path("obama.jpg")), str(sample_path("biden.jpg"))]
    done = subprocess.run(
        [sys.executable, str(script), *faces],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # Python's own stderr still reaches the terminal, and every face was found.
    assert "PYTHON-STDERR create_landmarker ok" in done.stderr
    assert "PYTHON-STDERR session ok ok" in done.stderr
    assert "PYTHON-STDERR pool ok ok" in done.stderr
    leaked = [m for m in NATIVE_MARKERS if m in done.stderr + done.stdout]
    assert not leaked, done.stderr[-3000:]
    kept = log.read_text()
    assert "face_landmarker_graph.cc" in kept
    assert "inference_feedback_manager.cc" in kept
    # the pool's two workers logged their own landmarker creation too (3 in all, at least)
    assert kept.count("face_landmarker_graph.cc") >= 3


def test_redirection_nests_and_restores_descriptor_2(tmp_path: Path):
    log = tmp_path / "native.log"
    before = os.fstat(2)
    with native_logs_to(log):
        with native_logs_to(log):
            os.write(2, b"inner native line\n")
        os.write(2, b"outer native line\n")
    after = os.fstat(2)
    assert (before.st_dev, before.st_ino) == (after.st_dev, after.st_ino)
    assert log.read_text() == "inner native line\nouter native line\n"
