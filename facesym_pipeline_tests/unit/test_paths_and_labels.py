from pathlib import Path

import pytest

from facesym_pipeline.lib.media.labels import label_from_folder_name, label_from_relpath
from facesym_pipeline.lib.paths import (
    InvalidPartitionKey,
    dataset_dir,
    dataset_folders,
    resolve_inside,
    slugify_dataset,
    validate_partition_key,
)


@pytest.mark.parametrize(
    ("relpath", "key"),
    [
        ("kaggle/2", "kaggle-2"),
        ("demo", "demo"),
        ("Stroke Faces", "stroke-faces"),
        ("a__b", "a__b"),
    ],
)
def test_slug_of_dataset_folder(relpath, key):
    assert slugify_dataset(relpath) == key


@pytest.mark.parametrize("bad", ["", "-x", "../etc", "a/b", "A", "x" * 65, "a;drop table", "é"])
def test_invalid_keys_are_refused(bad):
    with pytest.raises(InvalidPartitionKey):
        validate_partition_key(bad)


def test_slug_refuses_names_without_any_safe_character():
    with pytest.raises(InvalidPartitionKey):
        slugify_dataset("ééé")


def test_resolve_inside_blocks_traversal(tmp_path: Path):
    (tmp_path / "a").mkdir()
    assert resolve_inside(tmp_path, "a") == (tmp_path / "a").resolve()
    for escape in ("../x", "/etc/passwd", "a/../../x"):
        with pytest.raises(ValueError, match="escapes"):
            resolve_inside(tmp_path, escape)


def test_dataset_folders_and_grouping(tmp_path: Path):
    (tmp_path / "demo" / "stroke_data").mkdir(parents=True)
    (tmp_path / "kaggle" / "2" / "noStroke_data").mkdir(parents=True)
    (tmp_path / "kaggle" / "3").mkdir(parents=True)
    (tmp_path / "kaggle" / "3" / "a.jpg").write_bytes(b"x")
    keys = [slugify_dataset(f.relative_to(tmp_path)) for f in dataset_folders(tmp_path)]
    assert keys == ["demo", "kaggle-2", "kaggle-3"]
    assert dataset_dir("kaggle-2", tmp_path) == (tmp_path / "kaggle" / "2").resolve()
    with pytest.raises(FileNotFoundError):
        dataset_dir("nothing", tmp_path)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("noStroke_data", 0),
        ("no_stroke", 0),
        ("non-acute stroke", 0),
        ("NonStroke", 0),
        ("stroke_data", 1),
        ("Stroke", 1),
        ("faces", None),
    ],
)
def test_label_from_folder_name(name, label):
    assert label_from_folder_name(name) == label


def test_label_from_relpath_uses_nearest_labelled_folder():
    assert label_from_relpath("stroke_data/x/a.jpg") == 1
    assert label_from_relpath("train/noStroke_data/a.jpg") == 0
    assert label_from_relpath("a.jpg") is None
