"""CSV exports of the feature tables over every dataset partition."""

from __future__ import annotations

from pathlib import Path

from facesym_pipeline.lib.store.lake import Lake

EXPORTS = {
    "symmetry_features": "facial_asymmetry_symmetry.csv",
    "functional_features": "facial_asymmetry_functional.csv",
}


def export_tables(lake: Lake, exports_dir: Path) -> dict[str, int]:
    """Write each table's CSV (atomically) and return {file name: rows}."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for table, name in EXPORTS.items():
        frame = lake.read_all(table)
        tmp = exports_dir / f".{name}.tmp"
        frame.write_csv(tmp)
        tmp.replace(exports_dir / name)
        written[name] = frame.height
    return written
