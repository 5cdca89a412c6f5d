"""Grouping rows for cross-validation: by subject where it is known, otherwise by clusters of
near-duplicate images found with a perceptual hash, so that re-encoded, noised or brightened
copies of one photo never sit on both sides of a train/test split."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_MAX_HAMMING = 10


def _as_u64(hashes: Sequence[int]) -> np.ndarray:
    return np.array([int(h) & 0xFFFFFFFFFFFFFFFF for h in hashes], dtype=np.uint64)


def _close_pairs(a: np.ndarray, b: np.ndarray, max_hamming: int, chunk: int = 2048):
    """Index pairs (i, j), i < j, with popcount(a[i] ^ b[j]) <= max_hamming."""
    n = a.size
    for start in range(0, n, chunk):
        block = a[start : start + chunk]
        dist = np.bitwise_count(block[:, None] ^ b[None, :])
        ii, jj = np.nonzero(dist <= max_hamming)
        ii = ii + start
        keep = ii < jj
        yield from zip(ii[keep].tolist(), jj[keep].tolist(), strict=True)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:  # path compression
            self.parent[i], i = root, self.parent[i]
        return root

    def union(self, i: int, j: int) -> None:
        ri, rj = self.find(i), self.find(j)
        if ri != rj:
            # the smaller index becomes the root, so labels do not depend on merge order
            lo, hi = min(ri, rj), max(ri, rj)
            self.parent[hi] = lo


def _labels(uf: _UnionFind, n: int) -> list[int]:
    """Dense component ids, numbered in order of each component's first row."""
    dense: dict[int, int] = {}
    return [dense.setdefault(uf.find(i), len(dense)) for i in range(n)]


def near_duplicate_groups(
    hashes: Sequence[int],
    max_hamming: int = DEFAULT_MAX_HAMMING,
    mirrored: Sequence[int] | None = None,
) -> list[int]:
    """Group ids (0, 1, ... in order of first appearance) of single-linkage clusters of hashes
    within `max_hamming` bits of each other.

    With `mirrored` (the hash of each image's mirror image, from `phash_mirrored`), an image
    and a horizontally flipped copy of it are also joined.
    """
    n = len(hashes)
    uf = _UnionFind(n)
    if n == 0:
        return []
    h = _as_u64(hashes)
    for i, j in _close_pairs(h, h, max_hamming):
        uf.union(i, j)
    if mirrored is not None:
        if len(mirrored) != n:
            raise ValueError("mirrored must have one hash per image")
        m = _as_u64(mirrored)
        for i, j in _close_pairs(h, m, max_hamming):
            uf.union(i, j)
        for i, j in _close_pairs(m, h, max_hamming):
            uf.union(i, j)
    return _labels(uf, n)


def cv_groups(
    subject_id: Sequence[str | None],
    phash: Sequence[int | None],
    max_hamming: int = DEFAULT_MAX_HAMMING,
) -> list[str]:
    """Cross-validation group of every row.

    Rows are joined when they share a subject id or when their images are near-duplicates;
    the union matters because an unlabelled copy of a labelled subject's photo must follow
    that subject. A group is named after its subject (`subject:<id>`; several subjects that a
    shared image ties together are joined with `+`), else after the smallest hash in its image
    cluster (`phash:<16 hex>`), else after the row (`row:<i>`) when it has neither. Subject and
    hash names do not depend on row order.
    """
    n = len(subject_id)
    if len(phash) != n:
        raise ValueError("subject_id and phash must have the same length")
    uf = _UnionFind(n)
    first_row_of_subject: dict[str, int] = {}
    for i, s in enumerate(subject_id):
        if s is not None and str(s) != "":
            uf.union(i, first_row_of_subject.setdefault(str(s), i))
    hashed = [i for i, h in enumerate(phash) if h is not None]
    if hashed:
        h = _as_u64([phash[i] for i in hashed])
        for a, b in _close_pairs(h, h, max_hamming):
            uf.union(hashed[a], hashed[b])

    subjects: dict[int, set[str]] = {}
    min_hash: dict[int, int] = {}
    for i in range(n):
        root = uf.find(i)
        s = subject_id[i]
        if s is not None and str(s) != "":
            subjects.setdefault(root, set()).add(str(s))
        if phash[i] is not None:
            hv = int(phash[i]) & 0xFFFFFFFFFFFFFFFF
            min_hash[root] = min(min_hash.get(root, hv), hv)

    names: list[str] = []
    for i in range(n):
        root = uf.find(i)
        if root in subjects:
            names.append("subject:" + "+".join(sorted(subjects[root])))
        elif root in min_hash:
            names.append(f"phash:{min_hash[root]:016x}")
        else:
            names.append(f"row:{i}")
    return names


def frame_groups(frame) -> list[str]:
    """`cv_groups` of a table's rows from its `subject_id` and hex `phash` columns: the one
    grouping every subject-grouped split and every check of one uses."""
    hashes = [int(h, 16) if h else None for h in frame["phash"].to_list()]
    return cv_groups(frame["subject_id"].to_list(), hashes)
