"""Every model file the pipeline writes and reads, and why each can be trusted on loading.

- Classifiers (scikit-learn) are saved with skops, whose loader builds objects from a
  schema instead of unpickling (which can run arbitrary code). Loading is refused when the
  file names any type outside an explicit allowlist, whatever skops itself would accept,
  or when it does not match the sha256 of its JSON sidecar.
- Networks (torch) are saved as plain state dicts with primitive settings next to them
  and read back with `torch.load(weights_only=True)`, which refuses anything else; the
  modules that define a network turn it into such a payload and back.
Every file is written atomically (temporary file, then rename)."""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import polars as pl
import skops.io as sio

from facesym_pipeline.lib.store.hashing import sha256_bytes

MODEL_SUFFIX = ".skops"
META_SUFFIX = ".json"

# Every type a saved candidate model may contain. Anything else (a function, another
# estimator, a project class) makes the file untrusted. Extend deliberately, with a test.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.bool",
        "builtins.dict",
        "builtins.float",
        "builtins.int",
        "builtins.list",
        "builtins.NoneType",
        "builtins.str",
        "builtins.tuple",
        "numpy.bool_",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "numpy.ndarray",
        "numpy.random._generator.Generator",
        "numpy.random._pcg64.PCG64",
        "numpy.random.mtrand.RandomState",
        "numpy.uint8",
        "numpy.uint32",
        "numpy.uint64",
        "sklearn._loss._loss.CyHalfBinomialLoss",
        "sklearn._loss.link.Interval",
        "sklearn._loss.link.LogitLink",
        "sklearn._loss.loss.HalfBinomialLoss",
        "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
        "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.impute._base.SimpleImputer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.Pipeline",
        "sklearn.preprocessing._data.StandardScaler",
        "sklearn.preprocessing._label.LabelEncoder",
    }
)

REGISTRY_SCHEMA = {
    "model_id": pl.String,
    "model_name": pl.String,
    "created_at": pl.String,
    "code_version": pl.String,
    "n_features": pl.Int64,
    "feature_cols": pl.List(pl.String),
    "training_partitions": pl.List(pl.String),
    "metrics_json": pl.String,
    "file_sha256": pl.String,
    "path": pl.String,
}


class UntrustedModelError(Exception):
    """A model file that names types outside the allowlist, or does not match its sidecar."""


@dataclass(frozen=True)
class ModelRecord:
    model_id: str
    model_name: str
    feature_cols: list[str]
    training_partitions: list[str]
    metrics: dict[str, Any]
    code_version: str
    created_at: str
    file_sha256: str
    extra: dict[str, Any] = field(default_factory=dict)

    def model_path(self, directory: str | Path) -> Path:
        return Path(directory) / f"{self.model_id}{MODEL_SUFFIX}"


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def model_id_for(
    model, feature_cols: list[str], training_partitions: list[str], code_version: str
) -> str:
    """Short content hash: the fitted model's state (joblib's hash, which is stable for equal
    objects and never loads anything) together with what it was trained on and by which
    code. The same fit gives the same id; any change to data, features or code changes it."""
    state = joblib.hash(model)
    payload = _canonical(
        {
            "state": state,
            "features": list(feature_cols),
            "partitions": sorted(training_partitions),
            "code": code_version,
        }
    )
    return sha256_bytes(payload.encode())[:12]


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_classifier(
    model,
    directory: str | Path,
    *,
    model_name: str,
    feature_cols: list[str],
    training_partitions: list[str],
    metrics: dict[str, Any],
    code_version: str,
    created_at: str,
    extra: dict[str, Any] | None = None,
) -> ModelRecord:
    """Write `<id>.skops` and its `<id>.json` sidecar into `directory`; returns the record.

    `created_at` is passed in (an ISO timestamp) so this function does not read the clock.
    The model is checked against the allowlist before it is written, so a file this
    function writes can always be loaded again.
    """
    data = sio.dumps(model)
    refused = disallowed_types(data)
    if refused:
        raise UntrustedModelError(f"model contains types outside the allowlist: {refused}")
    record = ModelRecord(
        model_id=model_id_for(model, feature_cols, training_partitions, code_version),
        model_name=model_name,
        feature_cols=list(feature_cols),
        training_partitions=sorted(training_partitions),
        metrics=dict(metrics),
        code_version=code_version,
        created_at=created_at,
        file_sha256=sha256_bytes(data),
        extra=dict(extra or {}),
    )
    directory = Path(directory)
    _atomic_write(record.model_path(directory), data)
    _atomic_write(
        directory / f"{record.model_id}{META_SUFFIX}",
        json.dumps(asdict(record), indent=2, sort_keys=True, default=str).encode(),
    )
    return record


def _schema_types(node: Any, acc: set[str]) -> set[str]:
    if isinstance(node, dict):
        if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
            acc.add(f"{node['__module__']}.{node['__class__']}")
        for v in node.values():
            _schema_types(v, acc)
    elif isinstance(node, list):
        for v in node:
            _schema_types(v, acc)
    return acc


def file_types(data: bytes) -> tuple[set[str], set[str]]:
    """(types skops itself does not trust, every type named in the file's schema)."""
    untrusted = set(sio.get_untrusted_types(data=data))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        schema = json.loads(z.read("schema.json"))
    return untrusted, _schema_types(schema, set())


def disallowed_types(data: bytes, allowed: frozenset[str] = ALLOWED_TYPES) -> list[str]:
    """Types in a skops payload that are not on the allowlist (empty when it is safe to load).

    Both lists are checked: skops's own untrusted list catches functions and other
    references its schema stores indirectly; the schema walk catches estimator classes skops
    trusts by default but this project does not expect.
    """
    untrusted, named = file_types(data)
    return sorted((untrusted | named) - allowed)


def load_classifier_bytes(data: bytes, allowed: frozenset[str] = ALLOWED_TYPES):
    """Build the model from skops bytes, trusting exactly the allowlisted types it needs."""
    refused = disallowed_types(data, allowed)
    if refused:
        raise UntrustedModelError(f"refusing to load: types outside the allowlist: {refused}")
    trusted = sorted(set(sio.get_untrusted_types(data=data)) & allowed)
    return sio.loads(data, trusted=trusted)


def read_record(path: str | Path) -> ModelRecord:
    meta = json.loads(Path(path).read_text())
    return ModelRecord(**meta)


def load_classifier(
    directory: str | Path, model_id: str, allowed: frozenset[str] = ALLOWED_TYPES
) -> tuple[Any, ModelRecord]:
    """Load model `model_id` from `directory` with its record; the file must match the
    sidecar's sha256 and contain allowlisted types only."""
    if not model_id or not all(c in "0123456789abcdef" for c in model_id):
        raise ValueError(f"not a model id: {model_id!r}")
    directory = Path(directory)
    record = read_record(directory / f"{model_id}{META_SUFFIX}")
    data = record.model_path(directory).read_bytes()
    if sha256_bytes(data) != record.file_sha256:
        raise UntrustedModelError(f"model file {model_id} does not match its sidecar hash")
    return load_classifier_bytes(data, allowed), record


def list_models(directory: str | Path) -> pl.DataFrame:
    """The `model_registry` table: one row per sidecar in `directory`, newest first."""
    directory = Path(directory)
    rows = []
    if directory.is_dir():
        for meta in sorted(directory.glob(f"*{META_SUFFIX}")):
            try:
                r = read_record(meta)
            except (json.JSONDecodeError, TypeError):
                continue  # not one of ours
            rows.append(
                {
                    "model_id": r.model_id,
                    "model_name": r.model_name,
                    "created_at": r.created_at,
                    "code_version": r.code_version,
                    "n_features": len(r.feature_cols),
                    "feature_cols": r.feature_cols,
                    "training_partitions": r.training_partitions,
                    "metrics_json": _canonical(r.metrics),
                    "file_sha256": r.file_sha256,
                    "path": r.model_path(directory).name,
                }
            )
    return pl.DataFrame(rows, schema=REGISTRY_SCHEMA).sort(
        ["created_at", "model_id"], descending=True
    )


def latest_model(directory: str | Path) -> ModelRecord | None:
    """Record of the most recently created model in `directory`, or None."""
    reg = list_models(directory)
    if reg.height == 0:
        return None
    return read_record(Path(directory) / f"{reg['model_id'][0]}{META_SUFFIX}")


def save_torch_state(payload: dict[str, Any], path: str | Path | None = None) -> bytes:
    """Serialise a network payload ({settings, "state_dict": tensors}: tensors, strings,
    numbers and lists only, so that it loads with weights_only=True); written atomically to
    `path` when given, and returned as bytes."""
    import torch  # only networks need it: the classifier path stays light

    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    if path is not None:
        _atomic_write(Path(path), data)
    return data


def load_torch_state(source: str | Path | bytes) -> dict[str, Any]:
    """A payload written by `save_torch_state`, loaded on the CPU with weights_only=True."""
    import torch

    stream = (
        io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source).open("rb")
    )
    with stream:
        return torch.load(stream, map_location="cpu", weights_only=True)
