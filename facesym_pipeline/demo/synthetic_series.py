"""Synthetic per-frame feature tables that mimic the demo videos (a smiling person with a
mouth-corner droop that starts at a known time and grows, stays constant, or is absent),
with landmark jitter, dropped frames, outlier frames, blinks and smile episodes. Used to
test the temporal detectors and to exercise the sequence model without video decoding."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from facesym_pipeline.lib.temporal.config import MEASURES


@dataclass(frozen=True)
class DroopSpec:
    """Mouth-corner droop: side ("left"/"right"), onset (s), growth (mm/s, 0 = step to cap)
    and final size (mm)."""

    side: str
    onset_s: float
    rate_mm_s: float
    cap_mm: float


SCENARIOS: dict[str, DroopSpec | None] = {
    "droop_growing_left": DroopSpec("left", 3.0, 0.8, 5.0),
    "droop_growing_right": DroopSpec("right", 4.0, 0.6, 5.0),
    "droop_constant_left": DroopSpec("left", 0.0, 0.0, 4.0),
    "symmetric_control": None,
}

_NOISE = {m: 0.4 for m in MEASURES} | {"nasal_bridge_deviation_deg": 0.6}


def droop_mm(t_s: np.ndarray, spec: DroopSpec | None) -> np.ndarray:
    """Droop size (mm, >= 0) at each time."""
    t = np.asarray(t_s, dtype=float)
    if spec is None:
        return np.zeros_like(t)
    if spec.rate_mm_s <= 0:
        return np.where(t >= spec.onset_s, spec.cap_mm, 0.0)
    return np.clip((t - spec.onset_s) * spec.rate_mm_s, 0.0, spec.cap_mm)


def _episodes_activation(t: np.ndarray, episodes, ramp_s: float, level: float) -> np.ndarray:
    act = np.zeros_like(t)
    for a, b in episodes:
        up = np.clip((t - a) / ramp_s, 0, 1)
        down = np.clip((b - t) / ramp_s, 0, 1)
        act = np.maximum(act, level * np.minimum(up, down))
    return act


def synthetic_video(
    scenario: str,
    fps: float = 5.0,
    duration_s: float = 10.0,
    seed: int = 0,
    media_id: str | None = None,
    jitter_mm: float = 1.0,
    drop_fraction: float = 0.05,
    outlier_fraction: float = 0.02,
    gaps: tuple[tuple[float, float], ...] = (),
    smile_lopsided_mm: float | None = None,
    weak_side_rom: float = 1.0,
) -> pl.DataFrame:
    """Per-frame features of one synthetic video (frames failing quality already removed).

    `seed` fixes the person (natural offsets, smile and blink schedule) independently of
    `fps`, so the same person can be sampled at several rates. `jitter_mm` scales the noise
    SD (0.4 mm at 1.0). `gaps` are (start, end) seconds with no frames. `smile_lopsided_mm`
    is how far a healthy, lopsided smile moves the corner-height difference (default: a
    random 1.5-3 mm, random side). `weak_side_rom` < 1 makes the drooping side smile less.
    """
    person = np.random.default_rng(seed)
    offsets = {m: person.uniform(-0.5, 0.5) for m in MEASURES}
    lopsided = (
        smile_lopsided_mm
        if smile_lopsided_mm is not None
        else person.uniform(1.5, 3.0) * person.choice([-1.0, 1.0])
    )
    smile_balance = person.uniform(0.75, 0.95)  # weaker/stronger blendshape ratio
    start = person.uniform(0.6, 1.4)
    episodes = []
    while start < duration_s - 1.0:
        length = person.uniform(1.4, 2.2)
        episodes.append((start, start + length))
        start += length + person.uniform(1.2, 2.2)
    blinks = [(b, b + 0.3) for b in np.arange(person.uniform(0.5, 2.5), duration_s, 3.1)]
    blink_skew = person.choice([-1.0, 1.0]) * person.uniform(1.0, 2.0)

    noise = np.random.default_rng([seed, int(round(fps * 1000))])
    n = int(round(duration_s * fps))
    t = np.arange(n) / fps
    spec = SCENARIOS[scenario]
    droop = droop_mm(t, spec)
    side = 0.0 if spec is None else (-1.0 if spec.side == "left" else 1.0)

    smile = _episodes_activation(t, episodes, 0.4, 0.75)
    stronger_left = lopsided >= 0
    weak = smile * smile_balance
    sl, sr = (smile, weak) if stronger_left else (weak, smile)
    # a healthy lopsided smile: the corner-height difference follows the smile level
    smile_diff = lopsided * smile / 0.75
    if spec is not None and weak_side_rom < 1.0:
        # the drooping side lifts less (up to 6 mm at full smile) once the droop has begun
        lost = (1.0 - weak_side_rom) * np.clip(droop / max(spec.cap_mm, 1e-9), 0, 1)
        if spec.side == "left":
            sl = sl * (1.0 - lost)
        else:
            sr = sr * (1.0 - lost)
        smile_diff = smile_diff + side * lost * 6.0 * smile / 0.75
    blink = _episodes_activation(t, blinks, 0.1, 0.95)

    vals: dict[str, np.ndarray] = {}
    for m in MEASURES:
        vals[m] = offsets[m] + noise.normal(0, _NOISE[m] * jitter_mm, n)
    vals["mouth_corner_height_diff_mm"] += smile_diff + side * droop
    vals["mouth_corner_midline_diff_mm"] += 0.3 * (smile_diff + side * droop)
    vals["eye_opening_diff_mm"] += blink * blink_skew + 0.4 * smile
    vals["mrd1_diff_mm"] += 0.6 * blink * blink_skew
    vals["alar_height_diff_mm"] += 0.3 * smile_diff

    frame = pl.DataFrame(
        {
            "media_id": media_id or f"{scenario}-{seed}",
            "frame_index": np.arange(n),
            "t_s": t,
            **vals,
            "bs_mouthSmileLeft": np.clip(sl + noise.normal(0, 0.02, n), 0, 1),
            "bs_mouthSmileRight": np.clip(sr + noise.normal(0, 0.02, n), 0, 1),
            "bs_eyeBlinkLeft": np.clip(blink + noise.normal(0, 0.02, n), 0, 1),
            "bs_eyeBlinkRight": np.clip(blink + noise.normal(0, 0.02, n), 0, 1),
        }
    )
    bad = noise.random(n) < outlier_fraction
    if bad.any():
        jump = noise.choice([-1.0, 1.0], n) * noise.uniform(4.0, 8.0, n)
        frame = frame.with_columns(
            *[
                pl.when(pl.Series(bad)).then(pl.col(m) + pl.Series(jump)).otherwise(pl.col(m))
                for m in MEASURES
            ]
        )
    keep = noise.random(n) >= drop_fraction
    for a, b in gaps:
        keep &= ~((t >= a) & (t < b))
    frame = frame.filter(pl.Series(keep))
    eps = 1e-6
    return frame.with_columns(
        *[
            pl.when(pl.max_horizontal(pl.col(f"bs_{k}Left"), pl.col(f"bs_{k}Right")) > 0.1)
            .then(
                (pl.col(f"bs_{k}Left") - pl.col(f"bs_{k}Right"))
                / (pl.col(f"bs_{k}Left") + pl.col(f"bs_{k}Right") + eps)
            )
            .otherwise(None)
            .alias(f"bs_{k}_asym")
            for k in ("mouthSmile", "eyeBlink")
        ]
    )


def scenario_truth(scenario: str) -> dict[str, object]:
    """Expected detector outcome of a scenario: flagged, trend label, onset (s)."""
    spec = SCENARIOS[scenario]
    if spec is None:
        return {"flagged": False, "label": "stable", "onset_s": None, "side": None}
    growing = spec.rate_mm_s > 0 and spec.onset_s > 0
    return {
        "flagged": True,
        "label": "worsening" if growing else "stable",
        "onset_s": spec.onset_s if growing else None,
        "side": spec.side,
    }
