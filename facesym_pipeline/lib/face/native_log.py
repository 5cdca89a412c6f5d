"""Keep native (C++) log lines out of the terminal and in a log file.

MediaPipe, TFLite/LiteRT, absl and glog write straight to file descriptor 2 from C++ and
from their own graph threads (`W0000 ... face_landmarker_graph.cc`, `inference_feedback_
manager.cc`, `Created TensorFlow Lite XNNPACK delegate`, `Logging before InitGoogle()`),
so Python's logging cannot catch them. `native_logs_to(path)` points descriptor 2 at the
log file while native code runs and restores it afterwards; Python's `sys.stderr` keeps
reaching the terminal meanwhile (a stream on a copy of the original descriptor), so
warnings and progress printed by Python are not lost in the file.

The redirection is per process and counted: nested or concurrent uses redirect once and
restore when the last one leaves. A worker process that only runs native code uses
`send_native_logs_to(path)` once for its whole life.

Where the lines go: `FACESYM_NATIVE_LOG` if set, else `<warehouse>/logs/native.log`
(rotated to `native.log.1` beyond 10 MB).
"""

from __future__ import annotations

import io
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facesym_pipeline.lib.paths import warehouse_root

NATIVE_LOG_ENV = "FACESYM_NATIVE_LOG"
_ROTATE_BYTES = 10 * 1024 * 1024
_STDERR_FD = 2

_lock = threading.RLock()
_depth = 0
_restore_fd: int | None = None
_python_stderr = None  # sys.stderr as it was before the redirection
# A copy of the terminal's descriptor and a text stream on it, per file that descriptor 2
# pointed at (Dagster points it at a step's compute log). Kept open: a stream handed out as
# sys.stderr during a redirection may be held on to and must keep working afterwards.
_terminals: dict[tuple[int, int], tuple[int, io.TextIOWrapper]] = {}


def native_log_path(path: str | Path | None = None) -> Path:
    """The log file: `path` if given, else FACESYM_NATIVE_LOG, else warehouse/logs/native.log."""
    if path is not None:
        return Path(path)
    env = os.environ.get(NATIVE_LOG_ENV)
    return Path(env) if env else warehouse_root() / "logs" / "native.log"


def _open_log(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.stat().st_size > _ROTATE_BYTES:
            os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def _flush_stderr() -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _stderr_on_fd2() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.fileno() == _STDERR_FD
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False  # e.g. pytest's capture stream: it is not descriptor 2, leave it


def _terminal() -> tuple[int, io.TextIOWrapper]:
    """A lasting copy of descriptor 2 (as it is now) and a text stream writing to it."""
    info = os.fstat(_STDERR_FD)
    key = (info.st_dev, info.st_ino)
    if key not in _terminals:
        fd = os.dup(_STDERR_FD)
        stream = io.TextIOWrapper(
            io.FileIO(fd, "w", closefd=False),
            encoding=getattr(sys.stderr, "encoding", None) or "utf-8",
            errors="backslashreplace",
            line_buffering=True,
            write_through=True,
        )
        _terminals[key] = (fd, stream)
    return _terminals[key]


def _enter(path: Path) -> None:
    global _depth, _restore_fd, _python_stderr
    with _lock:
        _depth += 1
        if _depth > 1:
            return
        _flush_stderr()
        swap = _stderr_on_fd2()
        try:
            terminal_fd, terminal_stream = _terminal()
            log_fd = _open_log(path)
        except OSError:  # no log file to be had: the lines stay on the terminal
            return
        _restore_fd = terminal_fd
        os.dup2(log_fd, _STDERR_FD)
        os.close(log_fd)
        if swap:
            _python_stderr, sys.stderr = sys.stderr, terminal_stream


def _leave() -> None:
    global _depth, _restore_fd, _python_stderr
    with _lock:
        _depth -= 1
        if _depth > 0 or _restore_fd is None:
            return
        if _python_stderr is not None:
            _flush_stderr()
            sys.stderr, _python_stderr = _python_stderr, None
        os.dup2(_restore_fd, _STDERR_FD)
        _restore_fd = None


@contextmanager
def native_logs_to(path: str | Path | None = None) -> Iterator[Path]:
    """Within the block, native writes to stderr go to the log file (see module doc)."""
    target = native_log_path(path)
    _enter(target)
    try:
        yield target
    finally:
        _leave()


def send_native_logs_to(path: str | Path | None = None) -> Path:
    """For a worker process: descriptor 2 goes to the log file for good (Python's stderr too,
    since the parent gets results and errors back through the pool, not the terminal)."""
    target = native_log_path(path)
    _flush_stderr()
    log_fd = _open_log(target)
    os.dup2(log_fd, _STDERR_FD)
    os.close(log_fd)
    return target


class QuietNative:
    """Wraps a native object (a MediaPipe landmarker) so that every call of its methods, and
    closing it, runs inside `native_logs_to(path)`. Usable as a context manager, like the
    object it wraps."""

    def __init__(self, target, path: str | Path | None = None):
        self._target = target
        self._log_path = native_log_path(path)

    def __getattr__(self, name: str):
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def quiet(*args, **kwargs):
            with native_logs_to(self._log_path):
                return value(*args, **kwargs)

        return quiet

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        with native_logs_to(self._log_path):
            self._target.close()
