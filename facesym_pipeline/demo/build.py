"""Build the demo datasets once: a stamp records the generator's code version and seed so
an unchanged second `make demo` does not regenerate (and re-hash) anything."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path

from facesym_pipeline.lib.code_version import code_version
from facesym_pipeline.lib.store.hashing import sha256_file

DEMO_IMAGES = "demo"
DEMO_VIDEOS = "demo-video"
# The same faces with a controlled class-linked shortcut (stroke images darker and more
# compressed, as in scraped datasets), for the shortcut audit.
DEMO_CONFOUNDED = "demo-confounded"


def _stamp(seed: int) -> dict:
    # The population's pins are JSON, outside the code version: a changed pin rebuilds too.
    from facesym_pipeline.demo.population import PINS_FILE

    return {"seed": seed, "code_version": code_version(), "pins": sha256_file(PINS_FILE)}


def build_demo_datasets(root: Path, seed: int = 7, force: bool = False) -> Iterator[str]:
    from facesym_pipeline.demo.images import build_demo_images
    from facesym_pipeline.demo.reference import (
        REFERENCE,
        REFERENCE_INJECTED,
        build_reference,
        build_reference_injected,
    )
    from facesym_pipeline.demo.videos import build_demo_videos

    root.mkdir(parents=True, exist_ok=True)
    refused: Counter = Counter()  # injections a face could not take, by kind/renderer/size
    builders = (
        (DEMO_IMAGES, build_demo_images),
        (DEMO_CONFOUNDED, partial(build_demo_images, confound=True)),
        (DEMO_VIDEOS, build_demo_videos),
        # The normative population (nothing random in it, so the seed is not passed on).
        (REFERENCE, lambda folder, seed: build_reference(folder)),
        (
            REFERENCE_INJECTED,
            lambda folder, seed: build_reference_injected(folder, refused=refused),
        ),
    )
    for name, build in builders:
        folder = root / name
        stamp_path = root / f".{name}.stamp.json"
        if (
            not force
            and folder.is_dir()
            and stamp_path.is_file()
            and json.loads(stamp_path.read_text()) == _stamp(seed)
        ):
            yield f"data/{name}: up to date"
            continue
        shutil.rmtree(folder, ignore_errors=True)
        labels = build(folder, seed=seed)
        stamp_path.write_text(json.dumps(_stamp(seed)))
        yield f"data/{name}: {labels.height} files (labels in data/{name}/labels.csv)"
        if name == REFERENCE_INJECTED and refused:
            detail = ", ".join(
                f"{kind} {renderer} {mm:g} mm: {n}"
                for (kind, renderer, mm), n in sorted(refused.items())
            )
            yield f"data/{name}: {sum(refused.values())} injections refused ({detail})"
