from __future__ import annotations

import hashlib

import polars as pl

from facesym_pipeline.lib.audit.auditable import why_not_auditable


def _tables(rows: list[tuple[str, int | None, str | None, str, bool]]):
    """rows: (media_id, label, subject_id, phash, passed quality)."""
    inventory = pl.DataFrame(
        {
            "media_id": [r[0] for r in rows],
            "kind": ["image"] * len(rows),
            "status": ["ok"] * len(rows),
            "label": pl.Series([r[1] for r in rows], dtype=pl.Int8),
            "subject_id": pl.Series([r[2] for r in rows], dtype=pl.String),
            "phash": [r[3] for r in rows],
        }
    )
    quality = pl.DataFrame({"media_id": [r[0] for r in rows], "passed": [r[4] for r in rows]})
    return inventory, quality


def _people(label: int, n: int, passed: bool = True):
    # Hashes of the names: far apart, as for distinct photos.
    return [(f"{label}-{i}", label, f"s{label}{i}", _hash(f"{label}-{i}"), passed)
            for i in range(n)]  # fmt: skip


def _hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:16]


def test_three_people_per_class_can_be_audited():
    assert why_not_auditable(*_tables(_people(0, 3) + _people(1, 3))) is None


def test_reasons_name_what_is_missing():
    assert "excluded" in why_not_auditable(*_tables(_people(0, 3) + _people(1, 3)), excluded=True)
    assert "no labelled still" in why_not_auditable(*_tables(_people(0, 3, passed=False)))
    assert "class 0" in why_not_auditable(*_tables(_people(0, 3)))
    two = _people(0, 3) + _people(1, 2)
    assert "class 1 has stills of 2" in why_not_auditable(*_tables(two))


def test_frames_that_failed_quality_do_not_count():
    rows = _people(0, 3) + _people(1, 2) + [("1-x", 1, "s1x", "ffffffffffffffff", False)]
    assert "class 1 has stills of 2" in why_not_auditable(*_tables(rows))


def test_near_duplicate_photos_of_an_unnamed_person_are_one_subject():
    same_person = [(f"1-{i}", 1, None, "123456789abcdef0", True) for i in range(3)]
    reason = why_not_auditable(*_tables(_people(0, 3) + same_person))
    assert "class 1 has stills of 1" in reason
