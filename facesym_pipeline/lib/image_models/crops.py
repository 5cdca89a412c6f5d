"""Aligned face and region crops for the image models.

Every crop is a window of one face-aligned canvas: origin at the midpoint of the two iris
centres (468, 473), x along the iris axis towards 473 (the subject's left; image right in a
non-mirrored photo), y perpendicular to it towards the chin, and one unit = the
inter-iris distance (IPD) in pixels. Head roll is therefore undone and faces of any size
give crops at the same scale. Because the canvas's x = 0 is the facial midline, a region's
mirror partner is the window at (-cx, cy) (the nose and mouth windows are centred on their
own landmarks' midline, so each is its own partner); `<region>_mirrored` is that partner window
flipped horizontally, so `eye_left` and `eye_left_mirrored` (the subject's right eye
mirrored onto the left) show the same thing on a symmetric face, and `mouth` against
`mouth_mirrored` compares the two halves of the mouth.

Crops contain face pixels: they are derived data, may be deleted at any time, and are
rebuilt from the media and their landmarks.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import polars as pl

from facesym_pipeline.lib.face.geometry import face_axes
from facesym_pipeline.lib.face.mesh import (
    LEFT_IRIS_CENTRE,
    LEFT_MOUTH_CORNER,
    LOWER_LIP_OUTER,
    NASAL_BRIDGE,
    RIGHT_IRIS_CENTRE,
    RIGHT_MOUTH_CORNER,
    SUBNASALE,
    UPPER_LIP_OUTER,
)

MIRRORED_SUFFIX = "_mirrored"
CROP_INDEX_SCHEMA = {
    "media_id": pl.String,
    "frame_index": pl.Int64,
    "region": pl.String,
    "path": pl.String,
    "width": pl.Int64,
    "height": pl.Int64,
}


@dataclass(frozen=True)
class Region:
    """A window of the aligned canvas (units of IPD). The centre's y is `cy`, or, with
    `anchors`, the mean canvas y of those (midline or mirror-paired) landmarks plus `cy`, so
    that the nose and mouth windows follow the face's own proportions. With `anchors` and
    `follow_x`, the centre's x is their mean canvas x plus `cx`: a midline window then
    mirrors about the structure's own axis, which under a slight yaw is not the iris
    midpoint (the nose and mouth are nearer the camera than the eyes)."""

    name: str
    cx: float
    cy: float
    width_ipd: float
    height_ipd: float
    width_px: int
    height_px: int
    anchors: tuple[int, ...] = ()
    follow_x: bool = False

    @property
    def partner(self) -> str:
        """Name of the region on the other side of the midline (itself when centred on it)."""
        if self.name.endswith("_left"):
            return self.name.removesuffix("_left") + "_right"
        if self.name.endswith("_right"):
            return self.name.removesuffix("_right") + "_left"
        return self.name


_EYE_CY = -0.06  # a little above the iris line: the upper lid and lower brow matter for ptosis
# The eye and mouth crops carry the asymmetry (a 2-5 mm corner droop, a 1.5-3 mm lid drop),
# so they get about 80 px per IPD (~1.3 px/mm at a 63 mm IPD): a 2 mm droop moves the
# corner by 2-3 px, not 1-2. Faces in the demo have 36-120 px IPDs, so this is near the
# sources' own resolution, not far above it.
REGIONS: dict[str, Region] = {
    r.name: r
    for r in (
        Region("full_face", 0.0, 0.5, 2.7, 2.7, 96, 96),
        Region("eyes", 0.0, _EYE_CY, 1.8, 0.6, 96, 32),
        Region("eye_left", 0.5, _EYE_CY, 0.78, 0.52, 64, 42),
        Region("eye_right", -0.5, _EYE_CY, 0.78, 0.52, 64, 42),
        Region(
            "nose", 0.0, 0.0, 0.8, 0.8, 48, 48, anchors=(NASAL_BRIDGE, SUBNASALE), follow_x=True
        ),
        # both corners and the outer lip centres
        Region(
            "mouth",
            0.0,
            0.0,
            1.2,
            0.6,
            96,
            48,
            follow_x=True,
            anchors=(RIGHT_MOUTH_CORNER, LEFT_MOUTH_CORNER, UPPER_LIP_OUTER, LOWER_LIP_OUTER),
        ),
    )
}
# The regions whose mirrored counterparts are written next to them.
PAIRED_REGIONS = ("eyes", "eye_left", "eye_right", "nose", "mouth")


@dataclass(frozen=True)
class FaceGeometry:
    origin_px: np.ndarray  # (2,) iris midpoint in OpenCV pixel coordinates
    across: np.ndarray  # (2,) unit vector 468 -> 473
    down: np.ndarray  # (2,) unit vector towards the chin
    ipd_px: float

    def to_canvas(self, points_px: np.ndarray) -> np.ndarray:
        rel = np.asarray(points_px, np.float64)[..., :2] - self.origin_px
        return np.stack([rel @ self.across, rel @ self.down], axis=-1) / self.ipd_px

    def to_pixels(self, canvas_xy: np.ndarray) -> np.ndarray:
        c = np.asarray(canvas_xy, np.float64)
        return self.origin_px + self.ipd_px * (c[..., :1] * self.across + c[..., 1:2] * self.down)


def landmarks_to_pixels(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """(478, 2) OpenCV pixel coordinates (pixel centres at integers) of normalised landmarks;
    with this convention mirroring x -> 1 - x is exactly OpenCV's horizontal flip."""
    lm = np.asarray(landmarks, np.float64)
    return lm[:, :2] * (width, height) - 0.5


def face_geometry(landmarks: np.ndarray, width: int, height: int) -> FaceGeometry:
    """Aligned-canvas geometry from normalised (478, 2|3) landmarks of a `width` x `height` frame."""
    px = landmarks_to_pixels(landmarks, width, height)
    ipd = float(np.linalg.norm(px[LEFT_IRIS_CENTRE] - px[RIGHT_IRIS_CENTRE]))
    if not np.isfinite(ipd) or ipd < 2.0:
        raise ValueError(f"inter-iris distance of {ipd:.2f} px is too small to crop from")
    if not np.isfinite(px).all():
        raise ValueError("landmarks contain non-finite coordinates")
    across, down = face_axes(px)
    origin = (px[RIGHT_IRIS_CENTRE] + px[LEFT_IRIS_CENTRE]) / 2
    return FaceGeometry(origin, across, down, ipd)


def region_box(region: Region, geometry: FaceGeometry, landmarks_px: np.ndarray):
    """(cx, cy, width, height) of the region on the canvas, in IPD units."""
    cx, cy = region.cx, region.cy
    if region.anchors:
        centre = geometry.to_canvas(landmarks_px[list(region.anchors)]).mean(axis=0)
        cy += float(centre[1])
        if region.follow_x:
            cx += float(centre[0])
    return cx, cy, region.width_ipd, region.height_ipd


def _window(rgb: np.ndarray, geometry: FaceGeometry, box, size_px: tuple[int, int]) -> np.ndarray:
    cx, cy, w, h = box
    out_w, out_h = size_px
    step_x, step_y = w / out_w, h / out_h  # canvas units per output pixel
    # Source pixels per output pixel; shrink the frame first so the warp does not alias.
    shrink = max(1.0, geometry.ipd_px * min(step_x, step_y))
    source = rgb
    scale = 1.0
    if shrink > 1.25:
        scale = 1.0 / shrink
        new_size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
        source = cv2.resize(rgb, new_size, interpolation=cv2.INTER_AREA)
        scale = new_size[0] / rgb.shape[1]
    # Output pixel (j, i) -> canvas point of its centre -> source pixel.
    x0, y0 = cx - w / 2 + step_x / 2, cy - h / 2 + step_y / 2
    origin = geometry.to_pixels(np.array([x0, y0]))
    col = geometry.across * geometry.ipd_px * step_x
    row = geometry.down * geometry.ipd_px * step_y
    # Shrinking maps pixel centre p to (p + 0.5) * scale - 0.5.
    matrix = np.array(
        [
            [col[0] * scale, row[0] * scale, (origin[0] + 0.5) * scale - 0.5],
            [col[1] * scale, row[1] * scale, (origin[1] + 0.5) * scale - 0.5],
        ]
    )
    return cv2.warpAffine(
        source, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip


def crop_region(
    rgb: np.ndarray, landmarks: np.ndarray, region: str | Region, mirrored: bool = False
) -> np.ndarray:
    """One aligned crop (H, W, 3) uint8; `mirrored=True` gives the partner window flipped."""
    region = REGIONS[region] if isinstance(region, str) else region
    height, width = rgb.shape[:2]
    geometry = face_geometry(landmarks, width, height)
    px = landmarks_to_pixels(landmarks, width, height)
    if not mirrored:
        box = region_box(region, geometry, px)
        return _window(rgb, geometry, box, (region.width_px, region.height_px))
    partner = REGIONS.get(region.partner, region)
    box = region_box(partner, geometry, px)
    return np.ascontiguousarray(
        _window(rgb, geometry, box, (partner.width_px, partner.height_px))[:, ::-1]
    )


def aligned_crops(
    rgb: np.ndarray,
    landmarks: np.ndarray,
    regions: Sequence[str] = tuple(REGIONS),
    paired: Sequence[str] = PAIRED_REGIONS,
) -> dict[str, np.ndarray]:
    """All crops of one frame: each region, plus `<region>_mirrored` for those in `paired`."""
    out: dict[str, np.ndarray] = {}
    for name in regions:
        out[name] = crop_region(rgb, landmarks, name)
        if name in paired:
            out[name + MIRRORED_SUFFIX] = crop_region(rgb, landmarks, name, mirrored=True)
    return out


def crop_names(
    regions: Sequence[str] = tuple(REGIONS), paired: Sequence[str] = PAIRED_REGIONS
) -> list[str]:
    """Names `aligned_crops` returns, in its order."""
    names = []
    for name in regions:
        names.append(name)
        if name in paired:
            names.append(name + MIRRORED_SUFFIX)
    return names


def region_in_full_face(region: str, landmarks: np.ndarray, width: int, height: int):
    """Pixel box (x0, y0, x1, y1) of `region`'s window inside the full-face crop (floats),
    used to paste region-level maps back onto the face."""
    geometry = face_geometry(landmarks, width, height)
    px = landmarks_to_pixels(landmarks, width, height)
    face = REGIONS["full_face"]
    fx, fy, fw, fh = region_box(face, geometry, px)
    cx, cy, w, h = region_box(REGIONS[region], geometry, px)
    sx, sy = face.width_px / fw, face.height_px / fh
    left, top = fx - fw / 2, fy - fh / 2
    return (
        (cx - w / 2 - left) * sx,
        (cy - h / 2 - top) * sy,
        (cx + w / 2 - left) * sx,
        (cy + h / 2 - top) * sy,
    )


def write_crops(
    frames: Iterable[tuple[str, int, np.ndarray, np.ndarray]],
    out_dir: Path,
    regions: Sequence[str] = tuple(REGIONS),
    paired: Sequence[str] = PAIRED_REGIONS,
) -> pl.DataFrame:
    """Write PNG crops for (media_id, frame_index, rgb, landmarks) frames under
    `out_dir/<media_id>/<frame_index>_<region>.png` and return the index table
    (CROP_INDEX_SCHEMA; `path` relative to `out_dir`). Frames whose landmarks cannot give a
    crop (missing, or a face too small) are skipped."""
    out_dir = Path(out_dir)
    rows = []
    for media_id, frame_index, rgb, landmarks in frames:
        if landmarks is None:
            continue
        try:
            crops = aligned_crops(rgb, landmarks, regions, paired)
        except ValueError:
            continue
        folder = out_dir / str(media_id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, crop in crops.items():
            rel = f"{media_id}/{int(frame_index)}_{name}.png"
            ok, buf = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            if not ok:
                raise RuntimeError("PNG encoding failed")
            (out_dir / rel).write_bytes(buf.tobytes())
            rows.append(
                {
                    "media_id": str(media_id),
                    "frame_index": int(frame_index),
                    "region": name,
                    "path": rel,
                    "width": int(crop.shape[1]),
                    "height": int(crop.shape[0]),
                }
            )
    return pl.DataFrame(rows, schema=CROP_INDEX_SCHEMA)


def read_crop(path: Path) -> np.ndarray:
    """An RGB crop written by `write_crops`."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise OSError(f"cannot read crop {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
