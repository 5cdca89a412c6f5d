"""Progress of long steps: a bar on the terminal that runs them (`facesym run`, or the
terminal of `make dev`), nothing when output is not a terminal, and debug lines in the
run's event log either way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress(context, label: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    """A callback `(done, total)` that advances one bar labelled `label`."""
    bar = tqdm(desc=label, unit=unit, disable=None, leave=False, dynamic_ncols=True)

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        context.log.debug(f"{label}: {done}/{total} {unit}")

    try:
        yield report
    finally:
        bar.close()
