"""Mouth-corner droop by a piecewise-affine warp of the face mesh: the second droop
renderer, independent of `warp.droop_field` (a smooth Gaussian field in image space), so
calibration can tell the instrument's errors from one renderer's.

The 468 mesh points (plus fixed points on the image border) are triangulated in the image
plane (Delaunay). Mesh vertices move down the face by `droop * w(g)`, `g` the geodesic
distance from the drooping corner over the face surface in mouth widths: `w = 1` up to
`RIGID_MOUTH_WIDTHS` (lip tissue next to the corner moves with it), then a raised cosine
to 0 at `TAPER_END_MOUTH_WIDTHS`. Every other vertex, the opposite corner included, stays
put. Geodesic rather than image distance: the upper and lower lip and the cheek fold are
close in the image but apart on the face, and the droop spreads over the face. Inside
each triangle the map is affine, so the displacement anywhere is exactly the barycentric
mix of its vertices' and the rendered image is that map inverted per pixel.

A droop that would fold a triangle (turn it inside out: several pixels of content would
land on one) is refused (`NotRenderable`) rather than rendered with a tear.
"""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import Delaunay

from facesym_pipeline.demo import warp
from facesym_pipeline.demo.rendering import NotRenderable, Rendering, identity_maps, raised_cosine
from facesym_pipeline.lib.face.mesh import N_MESH

RIGID_MOUTH_WIDTHS = 0.10  # geodesic distance from the corner that moves fully
TAPER_END_MOUTH_WIDTHS = 0.60  # ... and where the movement has faded to nothing
# A closed lip gap makes triangles thinner than a pixel; such a sliver may flip without
# any visible effect, anything larger may not.
SLIVER_AREA_PX2 = 1.0
BORDER_POINTS_PER_EDGE = 5  # fixed anchors along each image edge (corners included)


@cache
def _tesselation_edges() -> np.ndarray:
    """(E, 2) undirected edges of MediaPipe's face tesselation between mesh vertices."""
    from mediapipe.tasks.python.vision import FaceLandmarksConnections as parts

    edges = np.array([(c.start, c.end) for c in parts.FACE_LANDMARKS_TESSELATION])
    edges = np.unique(np.sort(edges, axis=1), axis=0)
    return edges[(edges < N_MESH).all(axis=1)]


def _triangle_edges(simplices: np.ndarray) -> np.ndarray:
    return np.sort(
        np.vstack([simplices[:, [0, 1]], simplices[:, [1, 2]], simplices[:, [0, 2]]]), axis=1
    )


def geodesic_mouth_widths(mesh_px: np.ndarray, corner: int) -> np.ndarray:
    """(468,) shortest-path distance from `corner` over the mesh, in mouth widths.

    The graph is the tesselation plus the edges of the image-plane Delaunay triangulation of
    the mesh, with 3D lengths: points that touch in the image (across a closed lip gap, or
    where a turned face's side overlaps) then get similar weights, so the piecewise-affine
    warp does not shear the thin triangles between them."""
    pts3 = mesh_px[:N_MESH, :3]
    image_edges = _triangle_edges(Delaunay(pts3[:, :2]).simplices)
    edges = np.unique(np.vstack([_tesselation_edges(), image_edges]), axis=0)
    length = np.linalg.norm(pts3[edges[:, 0]] - pts3[edges[:, 1]], axis=1)
    graph = coo_matrix(
        (np.r_[length, length], (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]])),
        shape=(N_MESH, N_MESH),
    ).tocsr()
    mouth_width = np.linalg.norm(pts3[warp.MOUTH_CORNER["left"]] - pts3[warp.MOUTH_CORNER["right"]])
    return dijkstra(graph, indices=corner) / mouth_width


def vertex_weights(geodesic: np.ndarray) -> np.ndarray:
    """Share of the droop each vertex takes: 1, a raised-cosine taper, then 0."""
    span = TAPER_END_MOUTH_WIDTHS - RIGID_MOUTH_WIDTHS
    return raised_cosine((geodesic - RIGID_MOUTH_WIDTHS) / span)


def _border_points(height: int, width: int) -> np.ndarray:
    f = np.linspace(0, 1, BORDER_POINTS_PER_EDGE)
    top_bottom = [(x * (width - 1), y) for x in f for y in (0, height - 1)]
    sides = [(x, y * (height - 1)) for y in f[1:-1] for x in (0, width - 1)]
    return np.array(top_bottom + sides, dtype=np.float64)


def _signed_areas(points: np.ndarray, simplices: np.ndarray) -> np.ndarray:
    a, b, c = (points[simplices[:, k]] for k in range(3))
    return (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])


class MeshWarp:
    """The piecewise-affine droop of one face: source and moved vertices over one
    triangulation, the forward displacement at any point, and the rendered image."""

    def __init__(
        self, shape_hw: tuple[int, int], landmarks_px: np.ndarray, side: str, droop_mm: float
    ):
        height, width = int(shape_hw[0]), int(shape_hw[1])
        pts = np.asarray(landmarks_px, dtype=np.float64)
        if pts.ndim != 2 or pts.shape[1] < 3:
            raise ValueError(f"expected (478, 3) pixel landmarks with depth, got shape {pts.shape}")
        droop_px = float(droop_mm) / warp.mm_per_px_from_landmarks(pts)
        _, down = warp.face_axes(pts)
        weights = vertex_weights(geodesic_mouth_widths(pts, warp.MOUTH_CORNER[side]))
        self.src = np.vstack([pts[:N_MESH, :2], _border_points(height, width)])
        self.vertex_disp = np.zeros_like(self.src)
        self.vertex_disp[:N_MESH] = (droop_px * weights)[:, None] * down[None, :]
        self.dst = self.src + self.vertex_disp
        self.triangulation = Delaunay(self.src)
        simplices = self.triangulation.simplices
        self.moving = np.abs(self.vertex_disp[simplices]).sum(axis=(1, 2)) > 0
        before = _signed_areas(self.src, simplices)
        after = _signed_areas(self.dst, simplices)
        folded = (
            self.moving & (np.sign(before) != np.sign(after)) & (np.abs(before) >= SLIVER_AREA_PX2)
        )
        if folded.any():
            raise NotRenderable(
                f"mesh_warp: a {droop_mm:g} mm droop would fold {int(folded.sum())} triangle(s) of this face"
            )
        self.shape = (height, width)

    def displacement_px(self, points_xy: np.ndarray) -> np.ndarray:
        """(n, 2) forward displacement at source points: the barycentric mix of the
        vertices' displacements in the source triangle holding each point."""
        points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
        tri = self.triangulation
        k = tri.find_simplex(points)
        inside = k >= 0
        out = np.zeros_like(points)
        if inside.any():
            ks = k[inside]
            b = np.einsum(
                "nij,nj->ni", tri.transform[ks, :2], points[inside] - tri.transform[ks, 2]
            )
            lam = np.column_stack([b, 1 - b.sum(axis=1)])
            out[inside] = np.einsum("nk,nkd->nd", lam, self.vertex_disp[tri.simplices[ks]])
        return out

    def inverse_maps(self) -> tuple[np.ndarray, np.ndarray]:
        """Source position of every destination pixel (identity outside moving triangles).

        Each moved triangle maps its destination pixels back by its own affine inverse;
        triangles are visited one by one, each over its bounding box only (they are few and
        small), with every pixel of the box handled at once."""
        height, width = self.shape
        map_x, map_y = identity_maps(height, width)
        for simplex in self.triangulation.simplices[self.moving]:
            d, s = self.dst[simplex], self.src[simplex]
            x0, y0 = np.maximum(np.floor(d.min(axis=0)).astype(int), 0)
            x1, y1 = np.minimum(np.ceil(d.max(axis=0)).astype(int), (width - 1, height - 1))
            if x1 < x0 or y1 < y0:
                continue
            gx, gy = np.meshgrid(np.arange(x0, x1 + 1), np.arange(y0, y1 + 1))
            basis = np.array(
                [[d[0, 0] - d[2, 0], d[1, 0] - d[2, 0]], [d[0, 1] - d[2, 1], d[1, 1] - d[2, 1]]]
            )
            if abs(np.linalg.det(basis)) < 1e-12:
                continue  # a degenerate sliver covers no pixel
            inv = np.linalg.inv(basis)
            rx, ry = gx - d[2, 0], gy - d[2, 1]
            l0 = inv[0, 0] * rx + inv[0, 1] * ry
            l1 = inv[1, 0] * rx + inv[1, 1] * ry
            l2 = 1 - l0 - l1
            inside = (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
            map_x[gy[inside], gx[inside]] = (l0 * s[0, 0] + l1 * s[1, 0] + l2 * s[2, 0])[inside]
            map_y[gy[inside], gx[inside]] = (l0 * s[0, 1] + l1 * s[1, 1] + l2 * s[2, 1])[inside]
        return map_x, map_y


def mesh_warp_droop(
    rgb: np.ndarray, landmarks_px: np.ndarray, side: str, droop_mm: float
) -> Rendering:
    """A `droop_mm` droop of the subject's `side` mouth corner by `MeshWarp`."""
    model = MeshWarp(rgb.shape[:2], landmarks_px, warp._check_side(side), droop_mm)
    map_x, map_y = model.inverse_maps()
    image = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return Rendering(image, model.displacement_px)
