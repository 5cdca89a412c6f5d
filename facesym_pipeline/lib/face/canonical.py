"""The canonical face shipped inside the landmarker bundle: MediaPipe's reference mesh
(468 vertices, centimetres, +x towards the subject's left, +y up, +z out of the face) and
the landmarks and weights it fits the head pose with. It is exactly bilaterally symmetric
about x = 0, which is where the mirror pairs of `mesh.MIRROR` come from, and the pose the
face frame undoes is fitted onto it.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from facesym_pipeline.lib.face.landmarker_bundle import resolve_model
from facesym_pipeline.lib.face.mesh import N_MESH

_GEOMETRY_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"


@dataclass(frozen=True)
class CanonicalFace:
    vertices: np.ndarray  # (468, 3) cm, +x subject's left, +y up, +z out of the face
    pose_landmarks: np.ndarray  # landmark ids MediaPipe uses to fit the head pose
    pose_weights: np.ndarray  # their weights


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, pos


def _proto_fields(buf: bytes) -> list[tuple[int, int, int | bytes]]:
    """Decode one level of protobuf wire format as (field number, wire type, value)."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _read_varint(buf, pos)
            value, pos = buf[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _floats(fields: list, number: int) -> np.ndarray:
    """A repeated float field, whether the writer packed it or not."""
    chunks = []
    for field_number, wire, value in fields:
        if field_number != number:
            continue
        chunks.append(value if wire in (2, 5) else b"")
    return np.frombuffer(b"".join(chunks), dtype="<f4")


def parse_geometry_metadata(data: bytes) -> CanonicalFace:
    """Canonical mesh and pose-fitting weights from the bundle's geometry metadata.

    Layout (MediaPipe face_geometry protos): field 1 = canonical Mesh3d whose field 3 holds
    5 floats per vertex (x, y, z, u, v); field 2 = repeated (landmark_id, weight).
    """
    top = _proto_fields(data)
    mesh = next(value for number, _, value in top if number == 1)
    vertex_buffer = _floats(_proto_fields(mesh), 3).reshape(-1, 5)
    ids, weights = [], []
    for number, _, value in top:
        if number != 2:
            continue
        sub = dict((n, v) for n, _, v in _proto_fields(value))
        ids.append(int(sub.get(1, 0)))
        weights.append(struct.unpack("<f", sub[2])[0] if 2 in sub else 0.0)
    vertices = vertex_buffer[:, :3].astype(np.float64)
    if vertices.shape != (N_MESH, 3):
        raise ValueError(f"unexpected canonical mesh shape {vertices.shape}")
    return CanonicalFace(vertices, np.asarray(ids, np.intp), np.asarray(weights, np.float64))


@lru_cache(maxsize=4)
def _canonical_from_bundle(path: str) -> CanonicalFace:
    with zipfile.ZipFile(path) as bundle:
        return parse_geometry_metadata(bundle.read(_GEOMETRY_MEMBER))


def canonical_face(model_path: str | Path | None = None) -> CanonicalFace:
    """The canonical face of the landmarker bundle (resolved like the landmarker itself)."""
    if model_path is None:
        model_path = resolve_model()
    return _canonical_from_bundle(str(model_path))
