"""A small temporal-convolution (or GRU) classifier over per-video sequences of smoothed symmetry measures, and its
grouped cross-validated comparison with the rule-based detector.

Sequences are resampled to a fixed step in seconds (so 5 fps and 10 fps videos look alike)
and each measure is divided by its healthy threshold (a fixed physical scale, nothing fitted).
Gaps are zeros with a mask channel. Saved as a plain state dict plus primitive settings and
loaded with `weights_only=True`, so loading a model file cannot execute code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.model_selection import GroupKFold
from torch import nn

from facesym_pipeline.lib.temporal.config import MEASURES
from facesym_pipeline.lib.temporal.thresholds import DEFAULT_THRESHOLDS

FEATURES: tuple[str, ...] = tuple(f"{m}_smooth" for m in MEASURES)


@dataclass(frozen=True)
class Sequences:
    """Padded batch: x (n, T, F+1) float32 with a trailing observed-mask channel, the
    number of steps of each video and its media_id."""

    x: np.ndarray
    lengths: np.ndarray
    media_ids: list[str]


def sequences_from_series(series: pl.DataFrame, step_s: float = 0.2) -> Sequences:
    """Per-video sequences from a `temporal_series` table (mean per `step_s` bin)."""
    scale = np.array([DEFAULT_THRESHOLDS[m] for m in MEASURES])
    seqs, ids = [], []
    for (media_id,), video in series.sort("t_s").group_by(["media_id"], maintain_order=True):
        t = video["t_s"].to_numpy().astype(float)
        k = np.floor((t - t[0]) / step_s + 1e-9).astype(int)
        n = int(k.max()) + 1
        feats = np.zeros((n, len(FEATURES) + 1), dtype=np.float32)
        for j, col in enumerate(FEATURES):
            if col not in video.columns:
                continue
            v = video[col].cast(pl.Float64).to_numpy().astype(float)
            ok = np.isfinite(v)
            s = np.bincount(k[ok], weights=v[ok], minlength=n)
            c = np.bincount(k[ok], minlength=n)
            with np.errstate(invalid="ignore", divide="ignore"):
                feats[:, j] = np.where(c > 0, s / np.maximum(c, 1) / scale[j], 0.0)
            if j == 0:
                feats[:, -1] = (c > 0).astype(np.float32)
        seqs.append(feats)
        ids.append(str(media_id))
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    width = int(lengths.max()) if seqs else 0
    x = np.zeros((len(seqs), width, len(FEATURES) + 1), dtype=np.float32)
    for i, s in enumerate(seqs):
        x[i, : s.shape[0]] = s
    return Sequences(x, lengths, ids)


class GRUClassifier(nn.Module):
    """GRU over time, mean and max pooled over the valid steps, then a linear logit."""

    def __init__(self, n_features: int, hidden: int = 16):
        super().__init__()
        self.n_features, self.hidden = n_features, hidden
        self.gru = nn.GRU(n_features, hidden, batch_first=True)
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        steps = torch.arange(x.shape[1])[None, :, None]
        valid = steps < lengths[:, None, None]
        mean = (out * valid).sum(1) / lengths[:, None].clamp(min=1)
        peak = out.masked_fill(~valid, float("-inf")).amax(1)
        return self.head(torch.cat([mean, peak], dim=1)).squeeze(1)


class TemporalConvClassifier(nn.Module):
    """Two dilated 1-D convolutions over time (receptive field ~2.6 s at 0.2 s steps), mean
    and max pooled over the valid steps, then a linear logit."""

    def __init__(self, n_features: int, hidden: int = 16):
        super().__init__()
        self.n_features, self.hidden = n_features, hidden
        self.conv = nn.Sequential(
            nn.Conv1d(n_features, hidden, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, kernel_size=5, padding=4, dilation=2),
            nn.ReLU(),
        )
        self.head = nn.Linear(2 * hidden, 1)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        out = self.conv(x.transpose(1, 2)).transpose(1, 2)
        steps = torch.arange(x.shape[1])[None, :, None]
        valid = steps < lengths[:, None, None]
        mean = (out * valid).sum(1) / lengths[:, None].clamp(min=1)
        peak = out.masked_fill(~valid, float("-inf")).amax(1)
        return self.head(torch.cat([mean, peak], dim=1)).squeeze(1)


ARCHITECTURES = {"gru": GRUClassifier, "tcn": TemporalConvClassifier}


def train_sequence_model(
    x: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    arch: str = "tcn",
    hidden: int = 16,
    epochs: int = 120,
    lr: float = 0.02,
) -> nn.Module:
    """Full-batch Adam on class-balanced binary cross-entropy; the same inputs and seed give
    the same model."""
    torch.manual_seed(seed)
    model = ARCHITECTURES[arch](x.shape[2], hidden)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    xt, lt = torch.from_numpy(x), torch.from_numpy(lengths)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    n_pos = float(yt.sum())
    pos_weight = torch.tensor((yt.numel() - n_pos) / n_pos if n_pos > 0 else 1.0)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    model.train()
    for _ in range(epochs):
        opt.zero_grad()
        loss = loss_fn(model(xt, lt), yt)
        loss.backward()
        opt.step()
    model.eval()
    return model


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Probability of the positive class per sequence."""
    model.eval()
    return torch.sigmoid(model(torch.from_numpy(x), torch.from_numpy(lengths))).numpy()


def save_model(model: nn.Module, path: Path, step_s: float = 0.2) -> None:
    """State dict plus primitive settings (no pickled classes)."""
    torch.save(
        {
            "state_dict": model.state_dict(),
            "arch": next(k for k, v in ARCHITECTURES.items() if isinstance(model, v)),
            "n_features": model.n_features,
            "hidden": model.hidden,
            "features": list(FEATURES),
            "step_s": step_s,
        },
        path,
    )


def load_model(path: Path) -> nn.Module:
    """Rebuild a model saved by `save_model`; refuses anything but tensors and primitives."""
    blob = torch.load(path, weights_only=True)
    if list(blob["features"]) != list(FEATURES):
        raise ValueError("model was trained on a different feature list")
    model = ARCHITECTURES[str(blob["arch"])](int(blob["n_features"]), int(blob["hidden"]))
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model


def _metrics(method: str, y: np.ndarray, score: np.ndarray) -> dict[str, object]:
    pred = (score >= 0.5).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "method": method,
        "n_videos": int(y.size),
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)) if both else None,
        "roc_auc": float(roc_auc_score(y, score)) if both else None,
        "sensitivity": float(pred[y == 1].mean()) if (y == 1).any() else None,
        "specificity": float(1 - pred[y == 0].mean()) if (y == 0).any() else None,
    }


def grouped_cv_compare(
    seqs: Sequences,
    y: np.ndarray,
    groups: np.ndarray,
    rule_scores: np.ndarray,
    n_splits: int = 4,
    seed: int = 0,
    **train_kwargs,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Out-of-fold GRU probabilities with folds grouped by subject, compared with the
    rule-based detector's scores (0/1 or probabilities) on the same videos.

    Returns the comparison table (one row per method) and the out-of-fold probabilities.
    """
    y = np.asarray(y, dtype=int)
    groups = np.asarray(groups)
    n_splits = min(n_splits, len(np.unique(groups)))
    oof = np.full(y.size, np.nan)
    for train, test in GroupKFold(n_splits=n_splits).split(seqs.x, y, groups):
        model = train_sequence_model(
            seqs.x[train], seqs.lengths[train], y[train], seed=seed, **train_kwargs
        )
        oof[test] = predict_proba(model, seqs.x[test], seqs.lengths[test])
    table = pl.DataFrame(
        [
            _metrics("rule_based", y, np.asarray(rule_scores, dtype=float)),
            _metrics(f"{train_kwargs.get('arch', 'tcn')}_sequence", y, oof),
        ]
    )
    return table, oof
