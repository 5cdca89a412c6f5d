"""Nuisance changes of an image that keep the face and its asymmetry: sensor noise, a
small in-plane pose change, gamma and gain, JPEG re-compression.

The demo datasets draw them as nuisances (and as the confounded class's shortcut); the
shortcut audit's counterfactual sets re-apply and reverse them. Both read the recipe
values below, so an audit always undoes exactly what the data generator did.
"""

from __future__ import annotations

import cv2
import numpy as np

JPEG_QUALITY = 92  # quality of an image saved without a compression nuisance
# With confound=True the stroke class is darkened by this gamma and saved at this quality.
# A demo parameter, set strong on purpose (scraped collections differ this much): beyond
# the lighting nuisance's gamma range (0.75-1.35) and below its JPEG quality (60), so a
# full-face CNN can pick it up from ~80 training images (at gamma 1.35 / quality 45 it
# reached only ~0.6 out-of-fold accuracy). The counterfactual sets read these values.
CONFOUND_GAMMA = 1.6
CONFOUND_JPEG_QUALITY = 30


def add_noise(rgb: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    noisy = rgb.astype(np.float32) + rng.normal(0.0, sigma, rgb.shape).astype(np.float32)
    return np.clip(np.rint(noisy), 0, 255).astype(np.uint8)


def apply_gamma(rgb: np.ndarray, gamma: float, gain: float = 1.0) -> np.ndarray:
    """gamma > 1 darkens the mid-tones; gain scales the result."""
    lut = np.clip(np.rint(255.0 * gain * (np.arange(256) / 255.0) ** gamma), 0, 255)
    return cv2.LUT(rgb, lut.astype(np.uint8))


def small_pose_change(
    rgb: np.ndarray, centre_xy: np.ndarray, angle_deg: float, scale: float
) -> np.ndarray:
    """In-plane rotation and scale about the face centre (a slight head roll / distance)."""
    matrix = cv2.getRotationMatrix2D((float(centre_xy[0]), float(centre_xy[1])), angle_deg, scale)
    return cv2.warpAffine(
        rgb, matrix, (rgb.shape[1], rgb.shape[0]), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )  # fmt: skip


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    )
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    data = np.frombuffer(encode_jpeg(rgb, quality), dtype=np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
