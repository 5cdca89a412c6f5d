"""Deterministic training of the image models on grouped folds.

- Determinism: one seed drives weight initialisation, validation split, batch order and
  augmentation; torch runs with deterministic algorithms and a fixed thread count, so a
  rerun on the same machine gives the same weights.
- Folds: the caller passes the fold of every row (the asymmetry classifier's grouped folds,
  so that all models are compared on the same held-out subjects). Inside each training part
  a share of the subjects is held back for early stopping; the weights of the epoch with the
  lowest validation loss are kept.
- Device: CPU unless CUDA is available (or asked for).
- Weights are stored as a plain state dict next to the network's config, and read back
  with `torch.load(weights_only=True)` (`store.model_files`).
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facesym_pipeline.lib.image_models.datasets import CropArrays, augment, tensor_batch
from facesym_pipeline.lib.image_models.networks import build_network
from facesym_pipeline.lib.store.model_files import load_torch_state, save_torch_state


@dataclass
class TrainConfig:
    epochs: int = 25
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 1e-4
    patience: int = 6
    min_epochs: int = 4
    val_fraction: float = 0.25  # share of the training subjects held back for early stopping
    seed: int = 0
    num_threads: int = 2
    device: str = "auto"  # auto | cpu | cuda
    augment: bool = True
    network: dict = field(default_factory=dict)  # keyword arguments of the network class


@dataclass(frozen=True)
class EpochLog:
    fold: int
    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float
    seconds: float
    best: bool


EpochCallback = Callable[[EpochLog], None]

# Per-epoch lines are detail, not progress: DEBUG on this logger (and on a caller's logger
# through `on_epoch`, e.g. `context.log.debug(epoch_line(kind, epoch))`).
logger = logging.getLogger(__name__)


def epoch_line(kind: str, epoch: EpochLog) -> str:
    """One line for one epoch, without run ids."""
    return (
        f"{kind} fold {epoch.fold} epoch {epoch.epoch}: train loss {epoch.train_loss:.3f}, "
        f"val loss {epoch.val_loss:.3f}, val accuracy {epoch.val_accuracy:.2f}"
        + (" (best)" if epoch.best else "")
    )


@dataclass
class FitResult:
    kind: str
    model: nn.Module  # in eval mode, on the CPU
    history: list[EpochLog]
    best_epoch: int
    seconds: float
    device: str


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def set_determinism(seed: int, num_threads: int | None = None) -> None:
    """Seed torch and make it choose deterministic kernels (cuBLAS needs its workspace
    setting for that on CUDA)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = False
    if num_threads:
        torch.set_num_threads(int(num_threads))


def validation_split(groups: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the rows whose group is held back for validation: about `fraction`
    of the groups, at least one, never all of them."""
    uniq = np.unique(np.asarray(groups).astype(str))
    if uniq.size < 2:
        return np.zeros(len(groups), dtype=bool)
    n_val = int(np.clip(round(fraction * uniq.size), 1, uniq.size - 1))
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(uniq)[:n_val].tolist())
    return np.array([str(g) in held for g in groups], dtype=bool)


def _loss_fn(y: np.ndarray, device: torch.device) -> nn.Module:
    pos = max(1, int(y.sum()))
    neg = max(1, int(len(y) - y.sum()))
    # weight positives so both classes count equally whatever the class balance
    return nn.BCEWithLogitsLoss(pos_weight=torch.tensor(neg / pos, device=device))


@torch.no_grad()
def predict_logits(
    model: nn.Module, arrays: CropArrays, batch_size: int = 64, device: str = "auto"
) -> np.ndarray:
    """Logits for every row of `arrays` (eval mode)."""
    dev = resolve_device(device)
    model = model.to(dev).eval()
    out = []
    n = len(arrays)
    for start in range(0, n, batch_size):
        index = np.arange(start, min(n, start + batch_size))
        out.append(model(tensor_batch(arrays, model.input_crops, index, dev)).float().cpu())
    model.cpu()
    return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.float32)


def predict_proba(
    model: nn.Module, arrays: CropArrays, batch_size: int = 64, device: str = "auto"
) -> np.ndarray:
    """Probability of class 1 for every row of `arrays`."""
    return 1.0 / (1.0 + np.exp(-predict_logits(model, arrays, batch_size, device)))


def _evaluate(model, arrays, y, loss_fn, dev, batch_size=64) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        logits = []
        for start in range(0, len(y), batch_size):
            index = np.arange(start, min(len(y), start + batch_size))
            logits.append(model(tensor_batch(arrays, model.input_crops, index, dev)))
        z = torch.cat(logits)
        target = torch.as_tensor(y, dtype=torch.float32, device=dev)
        loss = float(loss_fn(z, target))
        acc = float(((z > 0).float() == target).float().mean())
    return loss, acc


def fit(
    kind: str,
    arrays: CropArrays,
    y: np.ndarray,
    groups: np.ndarray,
    config: TrainConfig | None = None,
    on_epoch: EpochCallback | None = None,
    fold: int = -1,
) -> FitResult:
    """Train one network of `kind` on all rows of `arrays`, early-stopping on a grouped
    validation split of them. `on_epoch` receives an `EpochLog` after every epoch."""
    config = config or TrainConfig()
    started = time.perf_counter()
    set_determinism(config.seed, config.num_threads)
    dev = resolve_device(config.device)
    y = np.asarray(y, dtype=np.int64)
    groups = np.asarray(groups)
    if len(y) != len(arrays):
        raise ValueError(f"{len(y)} labels for {len(arrays)} crop rows")
    val = validation_split(groups, config.val_fraction, config.seed)
    train_idx, val_idx = np.flatnonzero(~val), np.flatnonzero(val)
    if np.unique(y[train_idx]).size < 2:
        raise ValueError("the training part holds one class only")

    model = build_network(kind, config.network).to(dev)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, config.epochs))
    loss_fn = _loss_fn(y[train_idx], dev)
    generator = torch.Generator().manual_seed(config.seed)
    val_arrays = arrays.take(val_idx) if val_idx.size else None

    history: list[EpochLog] = []
    best_loss, best_epoch, best_state = np.inf, 0, copy.deepcopy(model.state_dict())
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        model.train()
        order = train_idx[torch.randperm(train_idx.size, generator=generator).numpy()]
        total, seen = 0.0, 0
        for start in range(0, order.size, config.batch_size):
            index = order[start : start + config.batch_size]
            if index.size < 2:  # BatchNorm needs two rows
                continue
            batch = tensor_batch(arrays, model.input_crops, index, dev)
            if config.augment:
                batch = augment(batch, generator)
            target = torch.as_tensor(y[index], dtype=torch.float32, device=dev)
            loss = loss_fn(model(batch), target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total += float(loss.detach()) * index.size
            seen += index.size
        scheduler.step()
        train_loss = total / max(1, seen)
        if val_arrays is not None:
            val_loss, val_acc = _evaluate(model, val_arrays, y[val_idx], loss_fn, dev)
        else:
            val_loss, val_acc = train_loss, float("nan")
        improved = val_loss < best_loss - 1e-4
        if improved:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
        log = EpochLog(
            fold, epoch, train_loss, val_loss, val_acc, time.perf_counter() - t0, improved
        )
        history.append(log)
        logger.debug(epoch_line(kind, log))
        if on_epoch is not None:
            on_epoch(log)
        if epoch >= config.min_epochs and epoch - best_epoch >= config.patience:
            break
    model.load_state_dict(best_state)
    model = model.cpu().eval()
    return FitResult(kind, model, history, best_epoch, time.perf_counter() - started, str(dev))


@dataclass
class CVResult:
    kind: str
    models: dict[int, nn.Module]  # fold -> model trained without that fold's subjects
    proba: np.ndarray  # out-of-fold probability per row
    fold: np.ndarray
    history: list[EpochLog]
    seconds: float
    device: str

    def history_rows(self) -> list[dict]:
        return [asdict(h) | {"model": self.kind} for h in self.history]


def cross_validate(
    kind: str,
    arrays: CropArrays,
    y: np.ndarray,
    groups: np.ndarray,
    folds: np.ndarray,
    config: TrainConfig | None = None,
    on_epoch: EpochCallback | None = None,
) -> CVResult:
    """One network per fold (trained on the other folds' rows), out-of-fold probabilities.

    `folds` gives each row's test fold, e.g. `TrainResult.folds["grouped_fold"]` of the
    asymmetry classifier; the rows must be in the same order as `arrays`."""
    config = config or TrainConfig()
    y = np.asarray(y, dtype=np.int64)
    groups = np.asarray(groups)
    folds = np.asarray(folds)
    if not (len(y) == len(groups) == len(folds) == len(arrays)):
        raise ValueError("y, groups, folds and arrays must have one entry per row")
    proba = np.full(len(y), np.nan)
    models: dict[int, nn.Module] = {}
    history: list[EpochLog] = []
    started = time.perf_counter()
    device = str(resolve_device(config.device))
    for k in np.unique(folds).tolist():
        test = folds == k
        train = np.flatnonzero(~test)
        result = fit(kind, arrays.take(train), y[train], groups[train], config, on_epoch, int(k))
        models[int(k)] = result.model
        history += result.history
        proba[test] = predict_proba(
            result.model, arrays.take(np.flatnonzero(test)), device=config.device
        )
    return CVResult(kind, models, proba, folds, history, time.perf_counter() - started, device)


def save_network(model: nn.Module, kind: str, path: Path | None = None) -> bytes:
    """Serialise {kind, config, state_dict} through `model_files.save_torch_state`; written
    to `path` when given, and returned as bytes."""
    payload = {
        "kind": kind,
        "config": dict(model.config),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    return save_torch_state(payload, path)


def load_network(source: Path | bytes) -> nn.Module:
    """A network in eval mode from `save_network` output (loaded with weights_only=True)."""
    payload = load_torch_state(source)
    model = build_network(payload["kind"], payload["config"])
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def cnn_predictor(model: nn.Module, batch_size: int = 64, device: str = "auto"):
    """A `shortcut_audit.Predictor` for a trained network: crops each sample from its image
    and landmarks; NaN for samples that give no crop."""
    from facesym_pipeline.lib.image_models.crops import MIRRORED_SUFFIX
    from facesym_pipeline.lib.image_models.datasets import crop_arrays

    bases = tuple(dict.fromkeys(c.removesuffix(MIRRORED_SUFFIX) for c in model.input_crops))
    paired = tuple(b for b in bases if b + MIRRORED_SUFFIX in model.input_crops)

    def predict(samples) -> np.ndarray:
        arrays = crop_arrays(((s.image, s.landmarks) for s in samples), bases, paired)
        out = np.full(len(samples), np.nan)
        if len(arrays):
            out[arrays.ok] = predict_proba(model, arrays, batch_size, device)
        return out

    return predict
