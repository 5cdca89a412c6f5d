"""Small residual networks for aligned face crops.

Both networks take a dict of image batches keyed by crop name (`crops.aligned_crops`
names), float (N, 3, H, W) already scaled by `datasets.to_tensor`, and return one logit per
row. Each declares the crops it reads in `input_crops`.

- `FullFaceCNN` sees the whole aligned face: it can use anything in it, including overall
  brightness, colour and compression texture.
- `RegionCNN` sees only the eyes, nose and mouth, and only through comparisons of each
  region with its mirrored counterpart. Each pair is first standardised jointly (one mean
  and scale for both crops), so a global brightness or contrast change acts on both halves
  alike and cancels. Two views of the pair then go on:
  - the pixel difference (region minus mirrored partner, both low-passed so that
    compression blocks and resampling noise do not pass for structure): exactly the
    left-right asymmetry. Its first convolution has no bias and is followed by an absolute
    value, so the difference and its negative (the face mirrored) give the same features;
  - optionally a siamese view: one encoder (shared weights) on both crops and the absolute
    difference of the two feature maps.
  A perfectly symmetric region gives the same answer whatever its content or lighting, and
  mirroring the whole image swaps the two inputs, which changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from facesym_pipeline.lib.image_models.crops import MIRRORED_SUFFIX

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


class SignInvariantStem(nn.Module):
    """Bias-free convolution, then |.|: f(-x) = f(x), and f(0) = 0 (before the BN shift).
    On a difference image this measures how much left and right differ, and where, but
    not which side is which."""

    def __init__(self, out_ch: int, kernel: int = 5, stride: int = 2):
        super().__init__()
        self.conv = nn.Conv2d(3, out_ch, kernel, stride, kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x).abs()))


def _pooled(y: torch.Tensor) -> torch.Tensor:
    return torch.cat([y.mean(dim=(2, 3)), y.amax(dim=(2, 3))], dim=1)


class PairComparator(nn.Module):
    """Features of one region pair (a, b), both low-passed: the sign-invariant encoding of
    the pixel difference a - b, and (with `siamese`) |F(a) - F(b)| of a shared encoder; each
    through residual stages, mean- and max-pooled. The low-pass (sigma in crop pixels, about
    1.2 mm at the default sizes) keeps edges displaced by millimetres and removes most of
    the compression blocking and noise, which differ between the halves by chance."""

    def __init__(
        self, widths: Sequence[int], blocks: int, siamese: bool = True, diff_sigma: float = 1.5
    ):
        super().__init__()
        w1, w2, w3 = widths
        self.low_pass: nn.Module = GaussianBlur(diff_sigma) if diff_sigma > 0 else nn.Identity()
        self.difference = nn.Sequential(
            SignInvariantStem(w1), _stage(w1, w2, blocks, 2), _stage(w2, w3, blocks, 2)
        )
        self.out_dim = 2 * w3
        self.encoder: nn.Module | None = None
        if siamese:
            self.encoder = nn.Sequential(_stem(w1), _stage(w1, w2, blocks, 2))
            self.compare = _stage(w2, w3, blocks, 2)
            self.out_dim += 2 * w3

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        a, b = _standardise_pair(a, b)
        a, b = self.low_pass(a), self.low_pass(b)
        parts = [_pooled(self.difference(a - b))]
        if self.encoder is not None:
            n = a.shape[0]
            # one encoder pass over both halves keeps BatchNorm statistics shared
            features = self.encoder(torch.cat([a, b], dim=0))
            parts.append(_pooled(self.compare((features[:n] - features[n:]).abs())))
        return torch.cat(parts, dim=1)


class RegionCNN(nn.Module):
    """One `PairComparator` per region (eyes: left eye vs mirrored right eye; nose and
    mouth: the crop vs its own mirror image), concatenated, then a small head -> 1 logit."""

    def __init__(
        self,
        regions: Sequence[str] = DEFAULT_REGION_PAIRS,
        widths: Sequence[int] = (8, 16, 24),
        blocks: int = 1,
        hidden: int = 16,
        dropout: float = 0.3,
        siamese: bool = True,
        diff_sigma: float = 1.5,
    ):
        super().__init__()
        self.config = {
            "regions": list(regions), "widths": list(widths), "blocks": int(blocks),
            "hidden": int(hidden), "dropout": float(dropout), "siamese": bool(siamese),
            "diff_sigma": float(diff_sigma),
        }  # fmt: skip
        self.regions = tuple(regions)
        self.input_crops = tuple(c for r in self.regions for c in (r, r + MIRRORED_SUFFIX))
        self.comparators = nn.ModuleDict(
            {r: PairComparator(widths, blocks, siamese, diff_sigma) for r in self.regions}
        )
        dim = sum(c.out_dim for c in self.comparators.values())
        self.head = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        parts = [self.comparators[r](batch[r], batch[r + MIRRORED_SUFFIX]) for r in self.regions]
        return self.head(torch.cat(parts, dim=1)).squeeze(1)


NETWORKS = {"full_face_cnn": FullFaceCNN, "region_cnn": RegionCNN}


def build_network(kind: str, config: Mapping | None = None) -> nn.Module:
    """A fresh network of `kind` ("full_face_cnn" | "region_cnn") from its `config` dict."""
    try:
        cls = NETWORKS[kind]
    except KeyError:
        raise KeyError(f"unknown network {kind!r}; known: {sorted(NETWORKS)}") from None
    return cls(**dict(config or {}))
