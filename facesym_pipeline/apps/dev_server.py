"""`dagster dev` driven from a script (the browser test, the orchestration bench): started
in its own session on a free loopback port against a given environment, asked over
GraphQL, and stopped by signalling only the process group it leads."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str, variables: dict | None = None, timeout_s: float = 60) -> dict:
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        body = json.load(response)
    if body.get("errors"):
        raise RuntimeError(f"GraphQL errors: {body['errors']}")
    return body["data"]


def location_loaded(base: str) -> bool:
    """True once every code location is loaded; raises when one failed to load."""
    data = graphql(
        base,
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus "
        "locationOrLoadError { __typename ... on PythonError { message } } } } } }",
    )
    entries = data["workspaceOrError"]["locationEntries"]
    for entry in entries:
        loaded = entry["locationOrLoadError"] or {}
        if loaded.get("__typename") == "PythonError":
            raise RuntimeError(f"code location {entry['name']} failed to load: {loaded['message']}")
    return bool(entries) and all(e["loadStatus"] == "LOADED" for e in entries)


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


@contextmanager
def dagster_dev(env: dict[str, str], log_path: Path, timeout_s: float = 240) -> Iterator[str]:
    """`dagster dev` (webserver, daemon, code server) with `env`; yields its base URL once
    the code location is loaded. Its output goes to `log_path`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    dagster = Path(sys.executable).with_name("dagster")
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [str(dagster), "dev", "-w", str(PROJECT / "workspace.yaml")]
            + ["-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"dagster dev exited:\n{_tail(log_path)}")
            try:
                if location_loaded(base):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, KeyError, TypeError):
                pass  # not answering yet
            if time.monotonic() > deadline:
                raise RuntimeError(f"no UI after {timeout_s:.0f} s:\n{_tail(log_path)}")
            time.sleep(1)
        yield base
    finally:
        stop_group(server)


def stop_group(
    process: subprocess.Popen, first: signal.Signals = signal.SIGINT, wait_s: float = 30
) -> None:
    """`first` (SIGINT is what dagster dev shuts down on), then SIGKILL, to the process
    group the process leads only; nothing else is touched."""
    for sig, timeout_s in ((first, wait_s), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; make sure none of its children outlived it
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
