import numpy as np
import pytest

from facesym_pipeline.demo.images import Variant, build_demo_images
from facesym_pipeline.lib.audit.audit_data import audit_data
from facesym_pipeline.lib.audit.counterfactual import IN_DISTRIBUTION, face_hull_mask
from facesym_pipeline.lib.audit.model_comparison import counterfactual_sets
from facesym_pipeline.lib.face.landmark_pass import landmark_pass_for_dataset
from facesym_pipeline.lib.face.quality import QualityThresholds, judge_frames
from facesym_pipeline.lib.measure.symmetry import symmetry_features
from facesym_pipeline.lib.media.inventory import scan_dataset
from facesym_pipeline.lib.media.sampling import sample_frames

pytestmark = pytest.mark.slow  # a landmark pass over a built demo dataset

VARIANTS = (
    Variant("original"),
    Variant("droop", "left", droop_mm=5.0),
    Variant("ptosis", "right", ptosis_mm=3.0),
    Variant("lighting"),
)


@pytest.fixture(scope="module")
def sets(tmp_path_factory, model_path):
    root = tmp_path_factory.mktemp("cf")
    labels = build_demo_images(
        root, confound=True, sources=["obama.jpg", "biden.jpg"], variants=VARIANTS
    )
    # The held-out faces exactly as the pipeline prepares them for the audit.
    inventory = scan_dataset("cf", root)
    landmarks = landmark_pass_for_dataset(inventory, sample_frames(inventory), root, model_path, 1)
    quality = judge_frames(landmarks, QualityThresholds())
    # (Two people, since the audit's folds need two; the checks below look at one.)
    data = audit_data(root, inventory, landmarks, quality, labels)
    built = counterfactual_sets(data, model_path)
    return {
        k: [s for s in v if s.meta["file"].startswith(("stroke_data/obama", "noStroke_data/obama"))]
        for k, v in built.items()
    }


def _mouth_diff(sample) -> float:
    h, w = sample.image.shape[:2]
    feats = symmetry_features(sample.landmarks[None], w, h)
    return float(feats["mouth_corner_height_diff_mm"][0])


def _by_source(items):
    return {s.meta.get("source_sample_id", s.meta["sample_id"]): s for s in items}


def test_sets_keep_labels_and_subjects(sets):
    base = _by_source(sets[IN_DISTRIBUTION])
    for name, items in sets.items():
        if name in (IN_DISTRIBUTION, "asymmetry_removed"):
            continue
        assert len(items) == len(base), name
        for s in items:
            origin = base[s.meta["source_sample_id"]]
            assert (s.label, s.subject_id) == (origin.label, origin.subject_id)
            assert s.image.shape == origin.image.shape
            assert not np.array_equal(s.image, origin.image), name
            assert s.landmarks is not None, name  # still a detectable face


def test_flip_swaps_the_side_of_a_droop(sets):
    droop = next(s for s in sets[IN_DISTRIBUTION] if s.meta["kind"] == "droop")
    flipped = _by_source(sets["flip"])[droop.meta["sample_id"]]
    before, after = _mouth_diff(droop), _mouth_diff(flipped)
    assert before < -2.0  # the subject's left corner is lower
    assert after > 2.0
    assert after == pytest.approx(-before, abs=1.5)
    assert flipped.label == 1 and flipped.meta["side"] == "right"


def test_asymmetry_removed_twins(sets):
    items = sets["asymmetry_removed"]
    twins = [s for s in items if s.meta["role"] == "twin"]
    kept = [s for s in items if s.meta["role"] == "asymmetric"]
    assert len(twins) == len(kept) == 2
    assert all(s.label == 0 for s in twins) and all(s.label == 1 for s in kept)
    droop_twin = next(s for s in twins if s.meta["kind"] == "droop")
    droop = next(s for s in kept if s.meta["kind"] == "droop")
    # the 5 mm droop of the subject's left corner is gone (the face's own asymmetry stays)
    assert _mouth_diff(droop_twin) - _mouth_diff(droop) > 3.0
    # the twin keeps its class's confound: as dark as the asymmetric image, darker than the
    # symmetric original
    original = next(s for s in sets[IN_DISTRIBUTION] if s.meta["kind"] == "original")
    assert droop_twin.image.mean() == pytest.approx(droop.image.mean(), abs=4.0)
    assert droop_twin.image.mean() < original.image.mean() - 10.0


def test_confound_broken_reverses_the_brightness_gap(sets):
    base = _by_source(sets[IN_DISTRIBUTION])
    for s in sets["confound_broken"]:
        origin = base[s.meta["source_sample_id"]]
        if origin.meta["confound"]:
            assert s.image.mean() > origin.image.mean() + 10.0
        else:
            assert s.image.mean() < origin.image.mean() - 10.0
    broken = {
        s.label: s.image.mean()
        for s in sets["confound_broken"]
        if s.meta["kind"] in ("droop", "original")
    }
    orig = {
        s.label: s.image.mean()
        for s in sets[IN_DISTRIBUTION]
        if s.meta["kind"] in ("droop", "original")
    }
    assert orig[1] < orig[0] and broken[1] > broken[0]


def test_background_changes_only_outside_the_face(sets):
    base = _by_source(sets[IN_DISTRIBUTION])
    for name in ("background_blur", "background_grey"):
        s = sets[name][0]
        origin = base[s.meta["source_sample_id"]]
        mask = face_hull_mask(origin.image.shape, origin.landmarks, growth=0.9) > 0
        outside = face_hull_mask(origin.image.shape, origin.landmarks, growth=1.4) == 0
        diff = np.abs(s.image.astype(int) - origin.image.astype(int)).mean(axis=2)
        assert diff[mask].mean() < 1.0
        assert diff[outside].mean() > 5.0
