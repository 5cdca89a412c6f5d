"""`usable_media` counts images and videos only: a dataset's labels.csv and README are
accounted for (status ok, kind metadata) but are not media."""

from __future__ import annotations

import shutil
from pathlib import Path

from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.media.accounting import unaccounted_files
from facesym_pipeline.lib.media.inventory import scan_dataset, usable_media_count


def test_labels_and_readme_are_accounted_for_but_not_counted_as_media(tmp_path: Path):
    folder = tmp_path / "mini"
    folder.mkdir()
    shutil.copy(sample_path("obama.jpg"), folder / "a.jpg")
    shutil.copy(sample_path("biden.jpg"), folder / "b.jpg")
    shutil.copy(sample_path("single_face.mp4"), folder / "c.mp4")
    (folder / "labels.csv").write_text("file,label,subject_id\na.jpg,1,s1\nb.jpg,0,s2\n")
    (folder / "README.md").write_text("three files\n")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")

    inventory = scan_dataset("mini", folder)

    assert usable_media_count(inventory) == 3
    assert inventory.filter(inventory["status"] == "ok").height == 5  # + labels.csv, README
    metadata = inventory.filter(inventory["kind"] == "metadata")["relpath"].sort().to_list()
    assert metadata == ["README.md", "labels.csv"]
    assert not any(unaccounted_files(folder, inventory).values())
    assert usable_media_count(inventory.clear()) == 0
