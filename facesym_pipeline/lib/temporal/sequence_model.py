"""A small sequence classifier (temporal convolution or GRU) over per-video sequences of
smoothed symmetry measures, built to generalise across people rather than memorise them.

With a handful of subjects, a free model learns each person's natural offsets. The design
removes what cannot carry over to an unseen face:
- Scale: each measure is divided by its healthy threshold inside the model (a buffer saved
  with the weights), so "1" means "at the edge of the healthy range" for every measure.
- Side: only magnitudes enter, so a droop on either side is the same finding (exactly
  invariant to a left/right flip, no augmentation needed). By default the level enters as
  |level| / threshold ("magnitude"), so the model can still place its own boundary when the
  threshold comes from few people; "excess" keeps only the part beyond the threshold.
- Person: next to the absolute level, each measure's change from the video's own baseline
  (median of its first seconds) shows growth independently of a natural offset.
- Measure identity: one tiny encoder is shared by all measures (each measure is a separate
  3-channel signal: level, change, observed) and the video score is the most telling
  measure's, as in the rule-based detector ("any region beyond its healthy range").
Training is regularised for tiny data: a few hundred parameters, weight decay, dropout,
class balancing, augmentation (noise, random gaps, truncated ends) and, when subjects are
known, the number of epochs chosen on inner subject-grouped validation folds.

Sequences are resampled to a fixed step in seconds (5 fps and 10 fps videos look alike);
gaps are zeros with per-measure observed-mask channels. Saved as a plain state dict plus
primitive settings and loaded with `weights_only=True`, so loading cannot execute code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import torch
from sklearn.model_selection import StratifiedGroupKFold
from torch import nn

from facesym_pipeline.lib.store.model_files import load_torch_state, save_torch_state
from facesym_pipeline.lib.temporal.config import MEASURES, TemporalConfig
from facesym_pipeline.lib.temporal.thresholds import DEFAULT_THRESHOLDS

N_MEASURES = len(MEASURES)
# Channel layout of `Sequences.x`: smoothed levels (mm or deg), their change from the
# video's baseline (same units), then one observed mask per measure.
FEATURES: tuple[str, ...] = (
    *(f"{m}_smooth" for m in MEASURES),
    *(f"{m}_from_baseline" for m in MEASURES),
    *(f"{m}_observed" for m in MEASURES),
)

# How a measure's level enters: "excess" = how far |level| lies beyond the healthy
# threshold (0 inside the healthy range, where a level is no evidence by construction);
# "magnitude" = |level| in threshold units.
LEVELS: tuple[str, ...] = ("excess", "magnitude")


@dataclass(frozen=True)
class Sequences:
    """Padded batch: x (n, T, 3 * n_measures) float32 in the `FEATURES` layout, the number
    of steps of each video and its media_id."""

    x: np.ndarray
    lengths: np.ndarray
    media_ids: list[str]


def _binned(k: np.ndarray, v: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean per bin and whether the bin holds a finite value."""
    ok = np.isfinite(v)
    s = np.bincount(k[ok], weights=v[ok], minlength=n)
    c = np.bincount(k[ok], minlength=n)
    return np.where(c > 0, s / np.maximum(c, 1), 0.0), c > 0


def _baseline(values: np.ndarray, observed: np.ndarray, steps: int) -> float:
    """Median of the first `steps` bins from the measure's first observed bin."""
    seen = np.flatnonzero(observed)
    if seen.size == 0:
        return 0.0
    window = observed[seen[0] : seen[0] + steps]
    return float(np.median(values[seen[0] : seen[0] + steps][window]))


def sequences_from_series(
    series: pl.DataFrame, step_s: float = 0.2, baseline_s: float | None = None
) -> Sequences:
    """Per-video sequences from a `temporal_series` table (mean per `step_s` bin); the
    baseline of a measure is the median over its first `baseline_s` observed seconds
    (default: the rule detector's `TemporalConfig.baseline_s`)."""
    base_steps = max(1, round((baseline_s or TemporalConfig().baseline_s) / step_s))
    seqs, ids = [], []
    for (media_id,), video in series.sort("t_s").group_by(["media_id"], maintain_order=True):
        t = video["t_s"].to_numpy().astype(float)
        k = np.floor((t - t[0]) / step_s + 1e-9).astype(int)
        n = int(k.max()) + 1
        feats = np.zeros((n, 3 * N_MEASURES), dtype=np.float32)
        for j, measure in enumerate(MEASURES):
            col = f"{measure}_smooth"
            if col not in video.columns:
                continue
            v = video[col].cast(pl.Float64).fill_nan(None).to_numpy().astype(float)
            level, observed = _binned(k, v, n)
            base = _baseline(level, observed, base_steps)
            feats[:, j] = np.where(observed, level, 0.0)
            feats[:, N_MEASURES + j] = np.where(observed, level - base, 0.0)
            feats[:, 2 * N_MEASURES + j] = observed
        seqs.append(feats)
        ids.append(str(media_id))
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    width = int(lengths.max()) if seqs else 0
    x = np.zeros((len(seqs), width, 3 * N_MEASURES), dtype=np.float32)
    for i, s in enumerate(seqs):
        x[i, : s.shape[0]] = s
    return Sequences(x, lengths, ids)


def threshold_vector(thresholds: dict[str, float] | None) -> list[float]:
    """Healthy threshold of each measure in `MEASURES` order (defaults fill the gaps)."""
    merged = DEFAULT_THRESHOLDS | dict(thresholds or {})
    return [float(merged[m]) for m in MEASURES]


class _SharedMeasureEncoder(nn.Module):
    """Common part: turn (level, change, observed) of every measure into flip-invariant
    inputs in healthy-threshold units, encode each measure with the same weights, pool over
    its observed steps and score it; the video's logit is its highest measure score."""

    def __init__(self, hidden: int, thresholds: list[float] | None, dropout: float, level: str):
        super().__init__()
        if level not in LEVELS:
            raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
        self.hidden, self.dropout, self.level = hidden, dropout, level
        scale = threshold_vector(None) if thresholds is None else list(thresholds)
        # float64 so that the thresholds read back from a saved model are the ones given.
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float64))
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden, 1)

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(zip(MEASURES, self.scale.tolist(), strict=True))

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """(batch, 3, T) -> (batch, hidden, T)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        n, steps, _ = x.shape
        m = N_MEASURES
        scale = self.scale.to(x.dtype)
        level = x[..., :m].abs() / scale
        if self.level == "excess":
            level = (level - 1.0).clamp(min=0.0)
        change = x[..., m : 2 * m].abs() / scale
        observed = x[..., 2 * m : 3 * m]
        z = torch.stack([level, change, observed], dim=2)  # n, T, 3, M
        z = z.permute(0, 3, 2, 1).reshape(n * m, 3, steps)
        out = self.encode(z).reshape(n, m, self.hidden, steps)
        in_length = torch.arange(steps)[None, :] < lengths[:, None]  # n, T
        valid = (observed.transpose(1, 2) > 0) & in_length[:, None, :]  # n, M, T
        count = valid.sum(-1)  # n, M
        w = valid[:, :, None, :]
        mean = (out * w).sum(-1) / count[..., None].clamp(min=1)
        peak = out.masked_fill(~w, float("-inf")).amax(-1)
        peak = torch.where(count[..., None] > 0, peak, torch.zeros_like(peak))
        score = self.head(self.drop(torch.cat([mean, peak], dim=-1))).squeeze(-1)  # n, M
        # A measure never observed in a video has no say; a video with none scores low.
        score = score.masked_fill(count == 0, -30.0)
        return score.amax(1)


class TemporalConvClassifier(_SharedMeasureEncoder):
    """Two dilated 1-D convolutions over time (receptive field ~2.6 s at 0.2 s steps,
    about the rule detector's persistence window)."""

    def __init__(self, hidden: int = 4, thresholds: list[float] | None = None,
                 dropout: float = 0.2, level: str = "magnitude"):  # fmt: skip
        super().__init__(hidden, thresholds, dropout, level)
        self.conv = nn.Sequential(
            nn.Conv1d(3, hidden, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.Conv1d(hidden, hidden, kernel_size=5, padding=4, dilation=2),
            nn.ReLU(),
        )

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        return self.conv(z)


class GRUClassifier(_SharedMeasureEncoder):
    """A GRU over time in place of the convolutions."""

    def __init__(self, hidden: int = 4, thresholds: list[float] | None = None,
                 dropout: float = 0.2, level: str = "magnitude"):  # fmt: skip
        super().__init__(hidden, thresholds, dropout, level)
        self.gru = nn.GRU(3, hidden, batch_first=True)

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(z.transpose(1, 2))
        return out.transpose(1, 2)


ARCHITECTURES = {"gru": GRUClassifier, "tcn": TemporalConvClassifier}


def _augment(
    x: torch.Tensor, lengths: torch.Tensor, scale: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """A perturbed copy of a batch: landmark-like noise (0.1 threshold units, the same
    on a level and its change from baseline), one random gap of up to 1 s per video (all
    measures, as a failed quality check would drop), and up to a fifth of the end cut off.
    Never touches the start, so baselines stay meaningful."""
    n, steps, _ = x.shape
    m = N_MEASURES
    x = x.clone()
    observed = x[..., 2 * m :]
    noise = 0.1 * scale.to(x.dtype) * torch.randn(n, steps, m, generator=gen) * observed
    x[..., :m] += noise
    x[..., m : 2 * m] += noise
    gap_len = torch.randint(0, 6, (n,), generator=gen)
    gap_start = (torch.rand(n, generator=gen) * lengths).long()
    t = torch.arange(steps)[None, :]
    gap = (t >= gap_start[:, None]) & (t < (gap_start + gap_len)[:, None])
    x[gap] = 0.0
    cut = (torch.rand(n, generator=gen) * 0.2 * lengths).long()
    return x, (lengths - cut).clamp(min=1)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Tensors this small are dominated by per-op overhead, which extra threads only add to
    (and on a shared machine multiply)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _loss_fn(y: torch.Tensor) -> nn.Module:
    n_pos = float(y.sum())
    pos_weight = torch.tensor((y.numel() - n_pos) / n_pos if n_pos > 0 else 1.0)
    return nn.BCEWithLogitsLoss(pos_weight=pos_weight)


def _fit(
    x: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    seed: int,
    arch: str,
    hidden: int,
    epochs: int,
    lr: float,
    weight_decay: float,
    dropout: float,
    thresholds: list[float],
    augment: bool,
    level: str,
    val: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> tuple[nn.Module, np.ndarray]:
    """Full-batch AdamW on class-balanced cross-entropy; with `val`, also the balanced
    validation loss after every epoch."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = ARCHITECTURES[arch](hidden, thresholds, dropout, level)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    xt, lt = torch.from_numpy(x), torch.from_numpy(lengths)
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32))
    loss_fn = _loss_fn(yt)
    if val is not None:
        xv, lv = torch.from_numpy(val[0]), torch.from_numpy(val[1])
        yv = torch.from_numpy(np.asarray(val[2], dtype=np.float32))
        val_loss_fn = _loss_fn(yv)
    curve = np.full(epochs, np.nan)
    for epoch in range(epochs):
        model.train()
        xb, lb = _augment(xt, lt, model.scale, gen) if augment else (xt, lt)
        opt.zero_grad()
        loss = loss_fn(model(xb, lb), yt)
        loss.backward()
        opt.step()
        if val is not None:
            model.eval()
            with torch.no_grad():
                curve[epoch] = float(val_loss_fn(model(xv, lv), yv))
    model.eval()
    return model, curve


def choose_epochs(
    x: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    max_epochs: int,
    seed: int,
    n_splits: int = 3,
    **fit_kwargs,
) -> int | None:
    """Early stopping without a held-out test subject: the epoch with the lowest mean
    validation loss over subject-grouped inner folds of the training videos (None when
    the subjects are too few for folds that hold both classes)."""
    groups = np.asarray(groups)
    n_splits = min(n_splits, len(np.unique(groups)))
    if n_splits < 2:
        return None
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    curves = []
    for inner, held in splitter.split(x, y, groups):
        if len(np.unique(y[inner])) < 2 or len(np.unique(y[held])) < 2:
            continue
        _, curve = _fit(x[inner], lengths[inner], y[inner], seed, epochs=max_epochs,
                        val=(x[held], lengths[held], y[held]), **fit_kwargs)  # fmt: skip
        curves.append(curve)
    if not curves:
        return None
    mean = np.mean(curves, axis=0)
    # Average over a few epochs so one lucky step does not decide (edges: fewer epochs).
    box = np.ones(5)
    smooth = np.convolve(mean, box, mode="same") / np.convolve(np.ones_like(mean), box, "same")
    return int(np.argmin(smooth)) + 1


def train_sequence_model(
    x: np.ndarray,
    lengths: np.ndarray,
    y: np.ndarray,
    seed: int = 0,
    arch: str = "tcn",
    hidden: int = 4,
    epochs: int | None = None,
    lr: float = 0.01,
    weight_decay: float = 1e-2,
    dropout: float = 0.2,
    thresholds: dict[str, float] | None = None,
    groups: np.ndarray | None = None,
    max_epochs: int = 200,
    augment: bool = True,
    level: str = "magnitude",
) -> nn.Module:
    """Train on sequences from `sequences_from_series`; inputs are scaled by `thresholds`
    (default `DEFAULT_THRESHOLDS`), which are saved with the model.

    `epochs` fixes the number of epochs; when None it is chosen by `choose_epochs` on
    inner folds of `groups` (subject of each video), else `max_epochs // 2`. The same
    inputs and seed give the same model.
    """
    y = np.asarray(y, dtype=int)
    settings = {
        "arch": arch,
        "hidden": hidden,
        "lr": lr,
        "weight_decay": weight_decay,
        "dropout": dropout,
        "thresholds": threshold_vector(thresholds),
        "augment": augment,
        "level": level,
    }
    with _one_thread():
        if epochs is None:
            chosen = None
            if groups is not None:
                chosen = choose_epochs(x, lengths, y, groups, max_epochs, seed, **settings)
            epochs = chosen if chosen is not None else max_epochs // 2
        model, _ = _fit(x, lengths, y, seed, epochs=epochs, **settings)
    model.epochs_trained = epochs
    return model


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Probability of the positive class per sequence."""
    model.eval()
    with _one_thread():
        return torch.sigmoid(model(torch.from_numpy(x), torch.from_numpy(lengths))).numpy()


def save_sequence_model(model: nn.Module, path: Path, step_s: float = 0.2) -> None:
    """State dict (thresholds included, as the `scale` buffer) plus primitive settings."""
    save_torch_state(
        {
            "state_dict": model.state_dict(),
            "arch": next(k for k, v in ARCHITECTURES.items() if isinstance(model, v)),
            "hidden": model.hidden,
            "dropout": model.dropout,
            "level": model.level,
            "features": list(FEATURES),
            "thresholds": model.thresholds,
            "step_s": step_s,
        },
        path,
    )


def load_sequence_model(path: Path) -> nn.Module:
    """Rebuild a model saved by `save_sequence_model`; refuses anything but tensors and
    primitives."""
    blob = load_torch_state(path)
    if list(blob["features"]) != list(FEATURES):
        raise ValueError("model was trained on a different feature list")
    model = ARCHITECTURES[str(blob["arch"])](
        int(blob["hidden"]), None, float(blob["dropout"]), str(blob["level"])
    )
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return model
