"""Small residual networks for aligned face crops.

Both networks take a dict of image batches keyed by crop name (`crops.aligned_crops`
names), float (N, 3, H, W) already scaled by `datasets.to_tensor`, and return one logit per
row. Each declares the crops it reads in `input_crops`.

- `FullFaceCNN` sees the whole aligned face: it can use anything in it, including overall
  brightness, colour and compression texture.
- `RegionCNN` sees only the eyes, nose and mouth, and only through a comparison: one
  encoder (shared weights) turns a region and its mirrored counterpart into feature maps,
  and only their absolute difference goes on. A perfectly symmetric region gives zeros
  whatever its lighting, and mirroring the whole image swaps the two inputs, which leaves
  the difference unchanged. Each pair is standardised jointly (one mean and scale for both
  crops) first, so global brightness and contrast shifts act on both halves alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from facesym_pipeline.lib.crops import MIRRORED_SUFFIX

DEFAULT_REGION_PAIRS = ("eye_left", "nose", "mouth")


class ResidualBlock(nn.Module):
    """conv-BN-ReLU-conv-BN plus a (projected when the shape changes) shortcut, then ReLU."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + self.shortcut(x))


def _stage(in_ch: int, out_ch: int, blocks: int, stride: int) -> nn.Sequential:
    layers = [ResidualBlock(in_ch, out_ch, stride)]
    layers += [ResidualBlock(out_ch, out_ch) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


def _stem(out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, out_ch, 3, 2, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU()
    )


class FullFaceCNN(nn.Module):
    """Stem (stride 2) + three residual stages (strides 1, 2, 2) + global average pool +
    one logit, on the `full_face` crop."""

    def __init__(self, widths: Sequence[int] = (16, 32, 64), blocks: int = 1, dropout: float = 0.2):
        super().__init__()
        self.config = {"widths": list(widths), "blocks": int(blocks), "dropout": float(dropout)}
        w1, w2, w3 = widths
        self.input_crops: tuple[str, ...] = ("full_face",)
        self.features = nn.Sequential(
            _stem(w1), _stage(w1, w1, blocks, 1), _stage(w1, w2, blocks, 2),
            _stage(w2, w3, blocks, 2),
        )  # fmt: skip
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(w3, 1))

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        x = self.features(batch["full_face"])
        return self.head(nn.functional.adaptive_avg_pool2d(x, 1)).squeeze(1)


class GaussianBlur(nn.Module):
    """A fixed (not trained) separable Gaussian low-pass, applied per channel."""

    def __init__(self, sigma: float):
        super().__init__()
        radius = max(1, int(round(3 * sigma)))
        x = torch.arange(-radius, radius + 1, dtype=torch.float32)
        kernel = torch.exp(-(x**2) / (2 * sigma**2))
        self.register_buffer("kernel", kernel / kernel.sum(), persistent=False)
        self.radius = radius

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        r = self.radius
        x = nn.functional.pad(x, (r, r, r, r), mode="replicate")
        x = nn.functional.conv2d(x, self.kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        return nn.functional.conv2d(x, self.kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _standardise_pair(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    both = torch.cat([a, b], dim=1)
    mean = both.mean(dim=(1, 2, 3), keepdim=True)
    std = both.std(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
    return (a - mean) / std, (b - mean) / std


class PairComparator(nn.Module):
    """Shared encoder on both crops -> |F(a) - F(b)| -> residual stage -> pooled vector."""

    def __init__(self, widths: Sequence[int], blocks: int):
        super().__init__()
        w1, w2, w3 = widths
        self.encoder = nn.Sequential(
            _stem(w1), _stage(w1, w1, blocks, 1), _stage(w1, w2, blocks, 2)
        )
        self.compare = _stage(w2, w3, blocks, 2)
        self.out_dim = 2 * w3

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = _standardise_pair(a, b)
        n = a.shape[0]
        # one encoder pass over both halves keeps BatchNorm statistics shared
        features = self.encoder(torch.cat([a, b], dim=0))
        diff = (features[:n] - features[n:]).abs()
        y = self.compare(diff)
        return torch.cat([y.mean(dim=(2, 3)), y.amax(dim=(2, 3))], dim=1)


class RegionCNN(nn.Module):
    """One `PairComparator` per region (eyes: left eye vs mirrored right eye; nose and
    mouth: the crop vs its own mirror image), concatenated, then a small head -> 1 logit."""

    def __init__(
        self,
        regions: Sequence[str] = DEFAULT_REGION_PAIRS,
        widths: Sequence[int] = (16, 32, 48),
        blocks: int = 1,
        hidden: int = 32,
        dropout: float = 0.2,
        blur_sigma: float = 0.0,
    ):
        super().__init__()
        self.blur: nn.Module = GaussianBlur(blur_sigma) if blur_sigma > 0 else nn.Identity()
        self.config = {
            "blur_sigma": float(blur_sigma),
            "regions": list(regions), "widths": list(widths), "blocks": int(blocks),
            "hidden": int(hidden), "dropout": float(dropout),
        }  # fmt: skip
        self.regions = tuple(regions)
        self.input_crops = tuple(c for r in self.regions for c in (r, r + MIRRORED_SUFFIX))
        self.comparators = nn.ModuleDict({r: PairComparator(widths, blocks) for r in self.regions})
        dim = sum(c.out_dim for c in self.comparators.values())
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = [
            self.comparators[r](self.blur(batch[r]), self.blur(batch[r + MIRRORED_SUFFIX]))
            for r in self.regions
        ]
        return self.head(torch.cat(parts, dim=1)).squeeze(1)


NETWORKS = {"full_face_cnn": FullFaceCNN, "region_cnn": RegionCNN}


def build_network(kind: str, config: Mapping | None = None) -> nn.Module:
    """A fresh network of `kind` ("full_face_cnn" | "region_cnn") from its `config` dict."""
    try:
        cls = NETWORKS[kind]
    except KeyError:
        raise KeyError(f"unknown network {kind!r}; known: {sorted(NETWORKS)}") from None
    return cls(**dict(config or {}))
