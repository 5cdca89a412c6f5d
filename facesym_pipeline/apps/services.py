"""The `distributed` profile's services on loopback, started and stopped by one context
manager: Postgres (instance storage), Redis (Celery broker), moto (an S3-compatible store
for the lake and compute logs), Celery workers and the Dagster daemon.

Every process is started in its own session and stopped by signalling only the process
group it leads; state lives in a throw-away folder. Used by `facesym demo-distributed` and
by the integration test's fixtures.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from facesym_pipeline.apps.dev_server import free_port, stop_group
from facesym_pipeline.lib.profile import CELERY_BROKER_ENV, PROFILE_ENV

PROJECT = Path(__file__).resolve().parents[2]
INSTANCE_CONFIG = PROJECT / "deploy" / "distributed" / "dagster.yaml"
BUCKET = "facesym"
# Dummy credentials: moto accepts any; real deployments pass their own through AWS_*.
_MOTO_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "facesym", "AWS_SECRET_ACCESS_KEY": "facesym"}
# Debian runs initdb and postgres only as an unprivileged user.
_POSTGRES_USER = "postgres"


class ServiceError(RuntimeError):
    """A service did not start; the message ends with the tail of its log."""


def _bin(name: str) -> str:
    """A program from this environment's bin folder, else PATH, else Debian's Postgres."""
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return str(local)
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )
    if found is None:
        raise ServiceError(f"{name} is not installed: run `make distributed-deps`")
    return found


def missing_programs() -> list[str]:
    """The system programs the profile needs that are not installed."""
    missing = []
    for name in ("redis-server", "initdb", "postgres"):
        try:
            _bin(name)
        except ServiceError:
            missing.append(name)
    return missing


def _wait(ready: Callable[[], bool], what: str, process: subprocess.Popen, log: Path, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while not ready():
        if process.poll() is not None:
            raise ServiceError(f"{what} exited with {process.returncode}:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ServiceError(f"{what} not ready after {timeout_s} s:\n{_tail(log)}")
        time.sleep(0.2)


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _port_open(port: int) -> Callable[[], bool]:
    def ready() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    return ready


def _stop(process: subprocess.Popen) -> None:
    stop_group(process, signal.SIGTERM, wait_s=20)


@dataclass
class Stack:
    """What is running: the environment every client of the profile needs, and the logs."""

    state_dir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.state_dir / "logs" / f"{name}.log"

    def start(self, name: str, argv: list[str], **popen) -> subprocess.Popen:
        self.log(name).parent.mkdir(parents=True, exist_ok=True)
        with open(self.log(name), "w") as log:
            process = subprocess.Popen(
                argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env, **popen.pop("env", {})},
                **popen,
            )
        self.processes[name] = process
        return process

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise ServiceError(
                    f"{name} exited with {process.returncode}:\n{_tail(self.log(name))}"
                )


def _as_postgres_user() -> tuple[list[str], Callable[[Path], None]]:
    """(command prefix, chown) for running Postgres: itself when not root, else the
    `postgres` system user the Debian package creates."""
    if os.geteuid() != 0:
        return [], lambda path: None
    user = pwd.getpwnam(_POSTGRES_USER)
    return ["runuser", "-u", _POSTGRES_USER, "--"], lambda path: os.chown(
        path, user.pw_uid, user.pw_gid
    )


def _start_postgres(stack: Stack, exits: ExitStack) -> str:
    prefix, chown = _as_postgres_user()
    folder = Path(tempfile.mkdtemp(prefix="facesym-pg-"))
    exits.callback(shutil.rmtree, folder, ignore_errors=True)
    chown(folder)
    data = folder / "data"
    subprocess.run(
        [*prefix, _bin("initdb"), "-D", str(data), "-U", "facesym", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    argv = [*prefix, _bin("postgres"), "-D", str(data), "-p", str(port)]
    process = stack.start(
        "postgres", argv + ["-h", "127.0.0.1", "-k", str(folder), "-c", "fsync=off"]
    )
    exits.callback(_stop, process)
    url = f"postgresql+psycopg2://facesym@127.0.0.1:{port}/facesym"

    def accepts() -> bool:
        import psycopg2

        try:
            psycopg2.connect(host="127.0.0.1", port=port, user="facesym", dbname="postgres").close()
            return True
        except psycopg2.OperationalError:
            return False

    _wait(accepts, "postgres", process, stack.log("postgres"))
    import psycopg2

    con = psycopg2.connect(host="127.0.0.1", port=port, user="facesym", dbname="postgres")
    con.autocommit = True
    con.cursor().execute("CREATE DATABASE facesym")
    con.close()
    return url


def _start_redis(stack: Stack, exits: ExitStack) -> str:
    port = free_port()
    argv = [_bin("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
    process = stack.start(
        "redis", argv + ["--save", "", "--appendonly", "no", "--dir", str(stack.state_dir)]
    )
    exits.callback(_stop, process)
    _wait(_port_open(port), "redis", process, stack.log("redis"))
    return f"redis://127.0.0.1:{port}/0"


def _start_object_store(stack: Stack, exits: ExitStack) -> str:
    port = free_port()
    process = stack.start("moto", [_bin("moto_server"), "-H", "127.0.0.1", "-p", str(port)])
    exits.callback(_stop, process)
    endpoint = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1):
                return True
        except OSError:
            return False

    _wait(answers, "moto", process, stack.log("moto"))
    import boto3

    boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", **_client_keys()
    ).create_bucket(Bucket=BUCKET)
    return endpoint


@contextmanager
def object_store(state_dir: Path) -> Iterator[dict[str, str]]:
    """Only the S3-compatible store, with a `facesym` bucket: yields the AWS_* variables
    that reach it."""
    stack = Stack(state_dir, {})
    with ExitStack() as exits:
        endpoint = _start_object_store(stack, exits)
        yield {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "us-east-1", **_MOTO_CREDENTIALS}


def _client_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": _MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": _MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def _dagster(stack: Stack, *args: str) -> None:
    result = subprocess.run(
        [_bin("dagster"), *args],
        env={**os.environ, **stack.env},
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ServiceError(f"dagster {' '.join(args)} failed:\n{result.stdout}{result.stderr}")


def _celery_config(stack: Stack, broker: str) -> Path:
    """The settings module dagster_celery's app imports (`dagster_celery_config`)."""
    folder = stack.state_dir / "celery"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dagster_celery_config.py").write_text(
        f"broker_url = {broker!r}\nresult_backend = {broker!r}\n"
        # one task at a time per worker, taken only when it is free
        "worker_prefetch_multiplier = 1\ntask_acks_late = True\n"
    )
    return folder


@contextmanager
def distributed_stack(
    state_dir: Path,
    warehouse_dir: Path,
    data_dir: Path,
    workers: int = 2,
    media_per_chunk: int = 100,
    say: Callable[[str], None] = print,
) -> Iterator[Stack]:
    """Start every service of the profile, yield, and stop all of them (also on errors)."""
    if missing := missing_programs():
        raise ServiceError(f"not installed: {', '.join(missing)}; run `make distributed-deps`")
    state_dir.mkdir(parents=True, exist_ok=True)
    home = state_dir / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copyfile(INSTANCE_CONFIG, home / "dagster.yaml")
    stack = Stack(state_dir, {})
    with ExitStack() as exits:
        started = time.perf_counter()
        postgres_url = _start_postgres(stack, exits)
        broker = _start_redis(stack, exits)
        endpoint = _start_object_store(stack, exits)
        stack.env.update(
            {
                PROFILE_ENV: "distributed",
                "DAGSTER_HOME": str(home),
                "FACESYM_POSTGRES_URL": postgres_url,
                CELERY_BROKER_ENV: broker,
                "FACESYM_BUCKET": BUCKET,
                "FACESYM_LAKE_URI": f"s3://{BUCKET}/lake",
                "FACESYM_WAREHOUSE": str(warehouse_dir),
                "FACESYM_DATA": str(data_dir),
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_REGION": "us-east-1",
                **_MOTO_CREDENTIALS,
                # each worker owns one core: one landmark process inside it
                "FACESYM_LANDMARK_WORKERS": "1",
                # landmark steps small enough that a dataset's pass spreads over workers
                "FACESYM_MEDIA_PER_CHUNK": str(media_per_chunk),
            }
        )
        _dagster(stack, "instance", "migrate")
        _dagster(stack, "instance", "concurrency", "set", "landmarks", str(workers))
        celery_path = _celery_config(stack, broker)
        for i in range(1, workers + 1):
            # --pool solo: the landmark pass starts its own processes, which Celery's
            # default prefork children (daemonic) may not do.
            worker = stack.start(
                f"celery-worker-{i}",
                [_bin("celery"), "-A", "dagster_celery.app", "worker", "--pool", "solo"]
                + ["-Q", "dagster", "-n", f"facesym-{i}@%h", "--loglevel", "WARNING"],
                cwd=PROJECT,
                env={"PYTHONPATH": os.pathsep.join([str(celery_path), str(PROJECT)])},
            )
            exits.callback(_stop, worker)
        daemon = stack.start(
            "dagster-daemon",
            [_bin("dagster-daemon"), "run", "-w", str(PROJECT / "workspace.yaml")],
            cwd=PROJECT,
        )
        exits.callback(_stop, daemon)
        say(
            f"services up in {time.perf_counter() - started:.1f} s: postgres, redis, moto, "
            f"{workers} celery workers, dagster-daemon (logs: {state_dir / 'logs'})"
        )
        yield stack
