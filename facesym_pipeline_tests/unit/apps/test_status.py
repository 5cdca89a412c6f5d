from __future__ import annotations

from pathlib import Path

import polars as pl

from facesym_pipeline.apps.status import status_report
from facesym_pipeline.lib.store.lake import Lake


def test_status_lists_tables_output_folders_and_folders_left_out(tmp_path: Path):
    wh, data = tmp_path / "wh", tmp_path / "data"
    Lake.in_warehouse(wh).write("media_inventory", "faces", pl.DataFrame({"media_id": ["a"]}))
    (wh / "reports" / "faces").mkdir(parents=True)
    for name in ("a.png", "b.png"):
        (wh / "reports" / "faces" / name).write_bytes(b"x" * 1000)
    for folder in ("faces", "!!!"):
        (data / folder).mkdir(parents=True)
    report = status_report(wh, data)
    assert "media_inventory" in report and "faces" in report
    assert "reports/faces" in report and "2 files" in report
    assert "a.png" not in report  # folders are summarised, files are not listed
    assert report.rstrip().endswith("(no valid or unique key): !!!")
