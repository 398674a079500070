"""The camera's noise against brightness, measured on its own noisy video (no clean frame), for the
temporal student's gate (models/temporal.py, noise_model "encoded").

Each frame-to-frame target (training/temporal.py ``prepare``) is the mean of ``cnt`` later frames moved
onto frame t, so where it exists the frame's deviation from it, d = x_t - target, has variance
var(b) * (1 + 1/cnt): an estimate of the camera's noise at every pixel that has a target, still or moving.
Per 4x4 block (the gate's block) and over channels, as the gate reads it:

    sample = (brightness of x_t, mean of d^2 * cnt / (cnt + 1))

Blocks are binned by brightness (quantiles: every bin holds data) and each bin's MEDIAN taken: flow
errors at texture and the edges of occlusions inflate a few blocks, the median ignores them. Then
``encoded_variance`` (shot * b^gamma + read) * b^(2 - 2 gamma) / gamma^2 is fitted to the bins: gamma
over a grid (1 = a linear-light camera, up to 3), at each gamma shot and read >= 0 by least squares on
the relative error, and the gamma whose fit has the smallest error in log space kept.

What it does not know: a bicubic warp lowers a target's noise where the camera moves (at a half-pixel
shift in both axes its kernel keeps 52% of white noise's variance, so with cnt 2 the deviation reads
up to 16% low there); a uniform scale
is what the gate's learned detector offset absorbs, the SHAPE over brightness is what this supplies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..models.temporal import B_MIN, GATE_UNSHUFFLE as BLOCK, encoded_variance   # the gate's block and model
BINS = 16
PER_FRAME = 4000           # blocks sampled per frame: a 1080p frame has 130k
GAMMAS = np.round(np.arange(1.0, 3.0001, 0.05), 2)


@dataclass
class NoiseFit:
    shot: float
    read: float
    gamma: float
    log_rms: float          # rms of log(model / measured) over the bins
    blocks: int             # blocks measured
    bins: list              # [[brightness, measured variance], ...] per bin, for the report

    def as_dict(self) -> dict:
        return {k: (round(v, 8) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def block_samples(frame: np.ndarray, target_sum: np.ndarray, cnt: np.ndarray, rng: np.random.Generator,
                  per_frame: int = PER_FRAME) -> np.ndarray:
    """(brightness, noise estimate) for up to ``per_frame`` 4x4 blocks of ``frame`` (H x W x 3 uint8) whose
    every pixel has a target (``target_sum``: the sum of ``cnt`` moved later frames, 0-255): K x 2 float32."""
    h, w = (frame.shape[0] // BLOCK) * BLOCK, (frame.shape[1] // BLOCK) * BLOCK
    c = cnt[:h, :w]
    if not (c > 0).any():
        return np.zeros((0, 2), np.float32)
    x = frame[:h, :w].astype(np.float32) / 255.0
    cs = np.maximum(c, 1)[..., None]
    d = x - target_sum[:h, :w] / (255.0 * cs)
    e = (d * d).mean(-1) * (c / (c + 1.0))

    def pool(a):
        return a.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK).mean((1, 3)).ravel()

    full = pool((c > 0).astype(np.float32)) == 1.0
    out = np.stack([pool(x.mean(-1)), pool(e)], -1)[full]
    if len(out) > per_frame:
        out = out[rng.choice(len(out), per_frame, replace=False)]
    return out.astype(np.float32)


def fit_encoded_noise(samples: np.ndarray) -> NoiseFit:
    """Fit ``encoded_variance`` to (brightness, noise) samples (``block_samples`` of many frames)."""
    if len(samples) < 10 * BINS:
        raise ValueError(f"{len(samples)} blocks with a frame-to-frame target: too few to measure the camera's "
                         f"noise (need {10 * BINS}); give longer clips or a less occluded scene")
    b, v = samples[:, 0].astype(np.float64), samples[:, 1].astype(np.float64)
    edges = np.unique(np.quantile(b, np.linspace(0, 1, BINS + 1)))
    idx = np.clip(np.searchsorted(edges, b, side="right") - 1, 0, len(edges) - 2)
    bins = [(float(np.median(b[idx == i])), float(np.median(v[idx == i]))) for i in range(len(edges) - 1)
            if (idx == i).sum() >= 10]
    bc = np.maximum(np.array([p[0] for p in bins]), B_MIN)
    vm = np.maximum(np.array([p[1] for p in bins]), 1e-12)
    best = None
    for g in GAMMAS:
        f1, f2 = encoded_variance(bc, 1.0, 0.0, g), encoded_variance(bc, 0.0, 1.0, g)
        for shot, read in _nonneg_relative_lsq(f1, f2, vm):
            model = np.maximum(shot * f1 + read * f2, 1e-12)
            err = float(np.sqrt(np.mean(np.log(model / vm) ** 2)))
            if best is None or err < best[0]:
                best = (err, shot, read, float(g))
    err, shot, read, g = best
    return NoiseFit(shot=shot, read=read, gamma=g, log_rms=err, blocks=len(samples),
                    bins=[[round(p[0], 4), float(f"{p[1]:.4g}")] for p in bins])


def _nonneg_relative_lsq(f1, f2, v):
    """Candidates (shot, read) >= 0 minimising sum((shot f1 + read f2) / v - 1)^2: the two-term solution if
    both are >= 0, and each one-term solution."""
    a1, a2 = f1 / v, f2 / v
    one = np.ones_like(v)
    out = []
    sol, *_ = np.linalg.lstsq(np.stack([a1, a2], 1), one, rcond=None)
    if (sol >= 0).all():
        out.append((float(sol[0]), float(sol[1])))
    out.append((float(a1 @ one / (a1 @ a1)), 0.0))
    out.append((0.0, float(a2 @ one / (a2 @ a2))))
    return out
