"""Where bytes live: a local folder or an S3-compatible bucket, named by one URI.

`s3://bucket/prefix` is reached with the standard AWS variables (`AWS_ENDPOINT_URL` for a
store that is not AWS, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`); any
other URI is a local path. Callers see one interface: put and get whole objects, list a
prefix, delete a prefix. A put is atomic in both: readers see the old object or the new
one, never a part.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from pyarrow import fs as pafs

S3_SCHEME = "s3://"


def is_object_store(uri: str | Path) -> bool:
    return str(uri).startswith(S3_SCHEME)


@dataclass(frozen=True)
class S3Settings:
    """How to reach an S3-compatible store, from the environment."""

    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None

    @classmethod
    def from_env(cls) -> S3Settings:
        return cls(
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            region=os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
            or "us-east-1",
            access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or None,
            secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
        )

    @property
    def endpoint(self) -> tuple[str, str] | None:
        """(scheme, host:port) of a custom endpoint, or None for AWS itself."""
        if not self.endpoint_url:
            return None
        parsed = urlparse(self.endpoint_url)
        return parsed.scheme or "https", parsed.netloc or parsed.path

    def filesystem(self) -> pafs.S3FileSystem:
        scheme, host = self.endpoint or ("https", None)
        return pafs.S3FileSystem(
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            region=self.region,
            endpoint_override=host,
            scheme=scheme,
            # path-style addressing: a loopback endpoint has no per-bucket host names
            force_virtual_addressing=False,
        )


class ObjectStore:
    """Objects under one root URI: a local folder or `s3://bucket/prefix`."""

    def __init__(self, root: str | Path):
        text = str(root).rstrip("/")
        self.uri = text
        if is_object_store(text):
            self.fs: pafs.FileSystem = S3Settings.from_env().filesystem()
            self._base = text.removeprefix(S3_SCHEME)
            self.local = False
        else:
            self.fs = pafs.LocalFileSystem()
            self._base = str(Path(text).resolve())
            self.local = True

    def _path(self, relative: str) -> str:
        return f"{self._base}/{relative}" if relative else self._base

    def uri_of(self, relative: str) -> str:
        """The object's address for other readers (DuckDB, the UI's metadata)."""
        return (self._base if self.local else S3_SCHEME + self._base) + (
            f"/{relative}" if relative else ""
        )

    def put(self, relative: str, data: bytes) -> str:
        target = self._path(relative)
        if self.local:
            # A temporary file next to the target, then one rename: atomic on POSIX.
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            staging = f"{target}.{uuid.uuid4().hex}.tmp"
            with open(staging, "wb") as out:
                out.write(data)
            os.replace(staging, target)
        else:
            # One PUT (or one completed multipart upload): the object appears whole.
            with self.fs.open_output_stream(target) as out:
                out.write(data)
        return self.uri_of(relative)

    def get(self, relative: str) -> bytes:
        """The object's bytes; FileNotFoundError when there is none."""
        try:
            with self.fs.open_input_stream(self._path(relative)) as stream:
                return stream.read()
        except FileNotFoundError:
            raise
        except OSError as error:
            if "NoSuchKey" in str(error) or "not found" in str(error).lower():
                raise FileNotFoundError(self.uri_of(relative)) from error
            raise

    def list(self, prefix: str) -> list[str]:
        """Relative names of every object under `prefix`, sorted."""
        return sorted(self.written_at(prefix))

    def written_at(self, prefix: str) -> dict[str, float]:
        """When each object under `prefix` was last written (Unix seconds), by relative
        name. Writes still being staged (`.tmp`) are no objects yet."""
        selector = pafs.FileSelector(self._path(prefix), recursive=True, allow_not_found=True)
        start = len(self._base) + 1
        return {
            info.path[start:]: info.mtime.timestamp()
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File and not info.path.endswith(".tmp")
        }

    def delete(self, relative: str) -> None:
        """Remove one object; nothing when it is not there."""
        info = self.fs.get_file_info(self._path(relative))
        if info.type == pafs.FileType.File:
            self.fs.delete_file(self._path(relative))
