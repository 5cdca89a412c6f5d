"""The mesh's named landmarks and mirror pairs: known correspondences, reflections of the
canonical face, the stored table against its regeneration, and every RIGHT_/LEFT_ pair of
named landmarks against the table."""

from __future__ import annotations

import numpy as np

from facesym_pipeline.demo.mirror_pairs import regenerate_mirror_pairs, write_mirror_module
from facesym_pipeline.lib.face import mesh
from facesym_pipeline.lib.face.canonical import canonical_face
from facesym_pipeline.lib.face.mesh import MIRROR

# --- mirror pairs --------------------------------------------------------------------------


def test_mirror_pairs_known_correspondences():
    pairs = {61: 291, 33: 263, 133: 362, 468: 473, 159: 386, 145: 374, 70: 300}
    for right, left in pairs.items():
        assert MIRROR[right] == left and MIRROR[left] == right
    for midline in (0, 1, 4, 13, 14, 17, 152, 168, 10):
        assert MIRROR[midline] == midline
    assert np.array_equal(MIRROR[MIRROR], np.arange(478))  # an involution
    canonical = canonical_face().vertices
    pair_mismatch = canonical[MIRROR[:468]] * [-1, 1, 1] - canonical
    assert np.abs(pair_mismatch).max() < 1e-3  # partners really are reflections


def test_stored_mirror_pairs_match_regeneration():
    assert regenerate_mirror_pairs() == tuple(int(i) for i in MIRROR)


def test_mirror_module_round_trip(tmp_path):
    path = tmp_path / "pairs.py"
    write_mirror_module(tuple(int(i) for i in MIRROR), path)
    namespace: dict = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102
    assert namespace["MIRROR_PAIRS"] == tuple(int(i) for i in MIRROR)


def test_named_left_landmarks_are_the_mirror_partners_of_the_right_ones():
    names = [n for n in dir(mesh) if n.startswith("RIGHT_")]
    assert len(names) >= 8
    for right_name in names:
        right, left = getattr(mesh, right_name), getattr(mesh, "LEFT_" + right_name[6:], None)
        if left is None:
            continue  # a right-side set whose partners are always taken from MIRROR
        expected = MIRROR[np.asarray(right)]
        if right_name.endswith("_RING"):
            # The iris rings run the same way round on both eyes, so mirroring reverses the
            # order: compare the points, not their sequence.
            left, expected = sorted(left), sorted(expected)
        assert np.array_equal(np.asarray(left), expected), right_name


def test_named_midline_landmarks_are_their_own_partners():
    for index in (
        mesh.NASION, mesh.NASAL_BRIDGE, mesh.SUBNASALE, mesh.NOSE_TIP, mesh.CHIN,
        mesh.UPPER_LIP_OUTER, mesh.UPPER_LIP_INNER, mesh.LOWER_LIP_INNER, mesh.LOWER_LIP_OUTER,
        *mesh.NASAL_DORSUM,
    ):  # fmt: skip
        assert mesh.mirror(index) == index
