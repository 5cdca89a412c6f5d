"""One registry of measures: every limit is written there and read from there."""

import re
from pathlib import Path

import facesym_pipeline
from facesym_pipeline.lib.classify.risk import RISK_MEASURES
from facesym_pipeline.lib.measure import functional, symmetry
from facesym_pipeline.lib.measure.feature_dictionary import feature_dictionary
from facesym_pipeline.lib.measure.registry import MEASURES, default_limits
from facesym_pipeline.lib.temporal.config import MEASURES as TEMPORAL_MEASURES
from facesym_pipeline.lib.temporal.thresholds import DEFAULT_THRESHOLDS

PACKAGE = Path(facesym_pipeline.__file__).parent


def test_every_consumer_reads_the_same_limit():
    limits = default_limits()
    for table in (symmetry.HEALTHY_ABS_MAX, functional.HEALTHY_ABS_MAX, DEFAULT_THRESHOLDS):
        assert table and all(limits[name] == value for name, value in table.items())
    assert set(TEMPORAL_MEASURES) <= set(MEASURES)
    assert set(RISK_MEASURES) <= set(MEASURES)
    dictionary = feature_dictionary()
    for row in dictionary.filter(dictionary["name"].is_in(list(MEASURES))).iter_rows(named=True):
        assert row["healthy_abs_max"] == limits[row["name"]]


def test_no_limit_is_written_outside_the_registry():
    """A measure name followed by a number (a dict entry or keyword) outside the registry is
    a second home for a limit."""
    names = "|".join(re.escape(n) for n in MEASURES)
    pattern = re.compile(rf"[\"']({names})[\"']\s*:\s*-?\d")
    offenders = [
        f"{path.relative_to(PACKAGE)}: {m.group(0)}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "registry.py" and "demo" not in path.parts
        for m in pattern.finditer(path.read_text())
    ]
    assert offenders == []


def test_each_measure_documents_its_unit_sign_and_limit_basis():
    for m in MEASURES.values():
        assert m.unit in {"mm", "deg", "1"}
        assert m.default_limit > 0 and m.limit_basis
        assert m.name.endswith(f"_{m.unit}") or m.unit == "1" or m.name.startswith("procrustes")
