"""Where a network looks: input-gradient saliency, drawn on the aligned full-face crop.

For the full-face network the map is |d logit / d pixel| (maximum over colour channels).
For the region network the gradients with respect to every region crop are pasted back
onto the face at that region's place; a mirrored crop's gradient is flipped back and
pasted where its pixels came from (the partner region), so both halves of a comparison
light up where they mattered. Maps are smoothed a little and scaled to [0, 1] per image.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import torch
from torch import nn

from facesym_pipeline.lib.image_models.crops import (
    MIRRORED_SUFFIX,
    REGIONS,
    aligned_crops,
    region_in_full_face,
)
from facesym_pipeline.lib.image_models.datasets import to_tensor


def saliency_on_face(
    model: nn.Module, rgb: np.ndarray, landmarks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """(full-face crop (96, 96, 3) uint8, saliency map (96, 96) in [0, 1], probability)."""
    bases = tuple(dict.fromkeys(c.removesuffix(MIRRORED_SUFFIX) for c in model.input_crops))
    crops = aligned_crops(rgb, landmarks, tuple(dict.fromkeys(("full_face", *bases))), bases)
    model = model.eval()
    inputs = {name: to_tensor(crops[name][None]).requires_grad_(True) for name in model.input_crops}
    logit = model(inputs)
    logit.sum().backward()
    face = REGIONS["full_face"]
    heat = np.zeros((face.height_px, face.width_px), np.float32)
    height, width = rgb.shape[:2]
    for name, x in inputs.items():
        grad = x.grad[0].abs().amax(dim=0).numpy()
        base = name.removesuffix(MIRRORED_SUFFIX)
        if base != name:
            grad = grad[:, ::-1]
            base = REGIONS[base].partner
        if base == "full_face":
            heat += grad
            continue
        x0, y0, x1, y1 = region_in_full_face(base, landmarks, width, height)
        # place the region's map with an affine resize into the face crop
        sx, sy = (x1 - x0) / grad.shape[1], (y1 - y0) / grad.shape[0]
        matrix = np.array([[sx, 0, x0 + sx / 2 - 0.5], [0, sy, y0 + sy / 2 - 0.5]], np.float64)
        heat += cv2.warpAffine(
            np.ascontiguousarray(grad),
            matrix,
            (face.width_px, face.height_px),
            flags=cv2.INTER_LINEAR,
            borderValue=0,
        )
    heat = cv2.GaussianBlur(heat, (0, 0), 1.5)
    top = float(np.percentile(heat, 99.5))
    heat = np.clip(heat / top, 0, 1) if top > 0 else heat
    proba = float(torch.sigmoid(logit.detach())[0])
    return crops["full_face"], heat, proba


def attribution_grid(
    models: Mapping[str, nn.Module],
    examples: Sequence[tuple[np.ndarray, np.ndarray, str]],
) -> bytes:
    """PNG bytes: one row per (rgb, landmarks, caption) example, the aligned face first and
    then each model's saliency over it, with the model's probability in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 1 + len(models)
    rows = max(1, len(examples))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.0 * rows), dpi=100, squeeze=False)
    for r, (rgb, landmarks, caption) in enumerate(examples):
        face = None
        for c, (name, model) in enumerate(models.items(), start=1):
            face, heat, proba = saliency_on_face(model, rgb, landmarks)
            ax = axes[r, c]
            ax.imshow(face)
            ax.imshow(heat, cmap="inferno", alpha=0.55, vmin=0, vmax=1)
            ax.set_title(f"{name}\np={proba:.2f}", fontsize=7)
        if face is not None:
            axes[r, 0].imshow(face)
        axes[r, 0].set_title(caption, fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
