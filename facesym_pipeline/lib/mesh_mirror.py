"""The face mesh's own left/right geometry: the canonical face shipped inside the landmarker
bundle, and the mirror partner of every landmark derived from it.

The canonical face (468 mesh vertices, centimetres, +x towards the subject's left, +y up, +z
out of the face) is exactly bilaterally symmetric about x = 0, so reflecting it and matching
each vertex to its nearest reflected vertex (optimal assignment) yields the mirror pairs
without typing any index by hand. The ten iris points are not part of the canonical mesh;
their partners come from the same matching applied to real frontal faces after they have
been rotated onto the canonical pose.

The pairs are stored in the generated module `_mirror_pairs.py` (so that measuring a face
never needs the optimiser); `generate_mirror_pairs` recomputes them and a test checks that
the stored table is what the geometry gives.
"""

from __future__ import annotations

import struct
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.optimize import linear_sum_assignment

from facesym_pipeline.lib._mirror_pairs import MIRROR_PAIRS

N_MESH = 468
N_LANDMARKS = 478
IRIS_INDICES = tuple(range(N_MESH, N_LANDMARKS))
_GEOMETRY_MEMBER = "geometry_pipeline_metadata_landmarks.binarypb"
# A vertex whose reflection lands within this distance (cm) of itself lies on the midline.
_MIDLINE_TOLERANCE_CM = 1e-3

MIRROR: np.ndarray = np.asarray(MIRROR_PAIRS, dtype=np.intp)
MIRROR.setflags(write=False)


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
        from facesym_pipeline.lib.model_file import resolve_model

        model_path = resolve_model()
    return _canonical_from_bundle(str(model_path))


def match_mirror(points: np.ndarray) -> np.ndarray:
    """Mirror partner of every point of a frontal, midline-centred set (x = 0 is the midline).

    Reflects x -> -x and solves the optimal one-to-one assignment between the points and
    their reflections; a point on the midline is matched to itself.
    """
    reflected = points * np.array([-1.0, 1.0, 1.0])
    cost = np.linalg.norm(points[:, None, :] - reflected[None, :, :], axis=-1)
    rows, cols = linear_sum_assignment(cost)
    partner = np.empty(len(points), dtype=np.intp)
    partner[rows] = cols
    return partner


def generate_mirror_pairs(
    canonical: CanonicalFace, frontal_iris_sets: np.ndarray
) -> tuple[int, ...]:
    """Mirror table for all 478 landmarks.

    `frontal_iris_sets` is (K, 478, 3): real faces already rotated onto the canonical pose,
    centred on the midline and scaled to canonical units; only their iris points are used.
    """
    vertices = canonical.vertices
    partner = match_mirror(vertices)
    on_midline = np.abs(vertices[:, 0]) < _MIDLINE_TOLERANCE_CM
    partner[on_midline] = np.flatnonzero(on_midline)
    iris = np.mean(frontal_iris_sets[:, N_MESH:, :], axis=0)
    iris_partner = match_mirror(iris - [np.mean(iris[:, 0]), 0.0, 0.0]) + N_MESH
    table = np.concatenate([partner, iris_partner])
    if not np.array_equal(table[table], np.arange(N_LANDMARKS)):
        raise ValueError("mirror matching is not an involution")
    return tuple(int(i) for i in table)


def write_mirror_module(table: tuple[int, ...], path: Path) -> None:
    """Write the generated table as a Python module (so it ships with the package)."""
    rows = [
        ", ".join(str(i) for i in table[start : start + 16]) for start in range(0, len(table), 16)
    ]
    body = ",\n    ".join(rows)
    path.write_text(
        '"""Generated by facesym_pipeline.lib.mesh_mirror.generate_mirror_pairs; do not edit.\n\n'
        "MIRROR_PAIRS[i] is the landmark that mirrors landmark i across the facial midline\n"
        '(i itself for a midline landmark)."""\n\n'
        "# fmt: off\n"
        f"MIRROR_PAIRS: tuple[int, ...] = (\n    {body},\n)\n"
        "# fmt: on\n"
    )


def mirror_landmarks(points: np.ndarray) -> np.ndarray:
    """Relabel a (..., 478, D) landmark array so that index i holds its mirror partner's point."""
    return points[..., MIRROR, :]


# Real frontal stills whose iris points settle the iris pairs (any frontal face would do).
IRIS_REFERENCE_SAMPLES = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "obama.jpg", "astronaut.png")


def frontal_reference_sets(names: tuple[str, ...] = IRIS_REFERENCE_SAMPLES) -> np.ndarray:
    """(K, 478, 3) face-frame coordinates of real frontal faces (runs the landmarker)."""
    from facesym_pipeline.lib.face_frame import face_frame
    from facesym_pipeline.lib.landmarker import create_landmarker, frame_result, to_mp_image
    from facesym_pipeline.lib.media import load_image_rgb
    from facesym_pipeline.lib.model_file import resolve_model
    from facesym_pipeline.lib.samples import sample_path

    sets = []
    with create_landmarker(resolve_model()) as landmarker:
        for name in names:
            rgb = load_image_rgb(sample_path(name))
            result = frame_result(rgb, landmarker.detect(to_mp_image(rgb)), 0, 0.0)
            if result.landmarks is None:
                raise ValueError(f"no face found in reference sample {name}")
            frame = face_frame(result.landmarks[None], result.frame_width, result.frame_height)
            sets.append(frame.coords_mm[0])
    return np.stack(sets)


def regenerate_mirror_pairs() -> tuple[int, ...]:
    """Recompute the mirror table from the bundle's canonical face and real frontal faces."""
    return generate_mirror_pairs(canonical_face(), frontal_reference_sets())


if __name__ == "__main__":
    write_mirror_module(regenerate_mirror_pairs(), Path(__file__).with_name("_mirror_pairs.py"))
