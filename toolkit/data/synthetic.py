"""Synthetic clean content: what photos rarely contain but a denoiser must leave alone.

Saturated colours, flat areas, ramps and sharp lines (colour bars, test patterns, text,
graphics overlays). A self-supervised denoiser only learns what its noisy training data
shows; trained on a handful of photos it shifts saturated colours and smears thin lines.
Training scenes made here go through the *same* camera simulator as the photos
(``simulator.simulate_pair``), so the noise model stays honest; only the clean content grows.

``probe_frames`` are the fixed frames of the do-no-harm gate (``eval/faithful.py``); the
training scenes are random (seeded) compositions of the same kinds of content, never
the probe frames themselves.
"""

from __future__ import annotations

import numpy as np


def _palette_colour(rng: np.random.Generator) -> np.ndarray:
    """Saturated primaries/secondaries half the time, greys and free colours otherwise."""
    kind = rng.integers(4)
    if kind <= 1:  # saturated: each channel near 0 or near its peak
        on = rng.integers(0, 2, 3)
        if not on.any():
            on[rng.integers(3)] = 1
        hi, lo = rng.uniform(0.6, 1.0), rng.uniform(0.0, 0.12)
        return np.where(on == 1, hi - rng.uniform(0, 0.06, 3), lo + rng.uniform(0, 0.04, 3))
    if kind == 2:  # grey, black to white
        return np.full(3, rng.uniform(0.0, 1.0))
    return rng.uniform(0.0, 1.0, 3)


def _ramp(rng, h, w):
    a, b = _palette_colour(rng), _palette_colour(rng)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = (np.cos(ang) * xx + np.sin(ang) * yy)
    t = (t - t.min()) / max(float(np.ptp(t)), 1e-6)
    return a * (1 - t[..., None]) + b * t[..., None]


def synthetic_scene(rng: np.random.Generator, h: int = 256, w: int = 256) -> np.ndarray:
    """One random clean HxWx3 float32 scene in [0, 1]: background, bars, patches, lines."""
    img = _ramp(rng, h, w) if rng.random() < 0.4 else np.broadcast_to(_palette_colour(rng), (h, w, 3)).copy()
    if rng.random() < 0.5:  # colour bars across the frame (vertical or horizontal)
        n = int(rng.integers(3, 9))
        edges = np.sort(rng.choice(np.arange(8, (w if rng.random() < 0.5 else h) - 8), n - 1, replace=False))
        horizontal = rng.random() < 0.3
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, h if horizontal else w]):
            c = _palette_colour(rng)
            if horizontal:
                img[lo:hi] = c
            else:
                img[:, lo:hi] = c
    for _ in range(int(rng.integers(1, 7))):  # flat patches
        y0, x0 = int(rng.integers(0, h - 8)), int(rng.integers(0, w - 8))
        y1, x1 = y0 + int(rng.integers(8, h // 2)), x0 + int(rng.integers(8, w // 2))
        img[y0:y1, x0:x1] = _palette_colour(rng)
    for _ in range(int(rng.integers(0, 4))):  # disks
        cy, cx, r = rng.integers(0, h), rng.integers(0, w), rng.integers(6, h // 4)
        yy, xx = np.ogrid[0:h, 0:w]
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = _palette_colour(rng)
    for _ in range(int(rng.integers(0, 12))):  # sharp lines, 1-3 px, some in a grid
        c, t = _palette_colour(rng), int(rng.integers(1, 4))
        if rng.random() < 0.5:
            y = int(rng.integers(0, h - t)); img[y:y + t] = c
        else:
            x = int(rng.integers(0, w - t)); img[:, x:x + t] = c
    return np.clip(img, 0.0, 1.0).astype(np.float32)


def synthetic_scenes(n: int, seed: int, h: int = 256, w: int = 256) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [synthetic_scene(rng, h, w) for _ in range(n)]


def probe_frames(h: int = 256, w: int = 320) -> dict[str, np.ndarray]:
    """The do-no-harm frames (float32 HxWx3 in [0, 1]): colour bars, saturated patches, ramp, lines.

    The same definitions as the reviewers' independent probe (75% SMPTE-like bars, four
    saturated patches, a grey ramp, a grid of 1-px dark lines).
    """
    bars = np.zeros((h, w, 3), np.float32)
    cols = [(.75, .75, .75), (.75, .75, 0), (0, .75, .75), (0, .75, 0), (.75, 0, .75), (.75, 0, 0), (0, 0, .75), (1, 1, 1)]
    for i, c in enumerate(cols):
        bars[:, i * w // 8:(i + 1) * w // 8] = c
    sat = np.zeros((h, w, 3), np.float32)
    for i, c in enumerate([(0.04, .96, .04), (.96, .96, .03), (.9, .1, .1), (.1, .1, .9)]):
        sat[:, i * w // 4:(i + 1) * w // 4] = c
    ramp = np.repeat(np.linspace(0, 1, w, dtype=np.float32)[None, :, None], h, 0).repeat(3, 2)
    lines = np.full((h, w, 3), .9, np.float32)
    lines[::8] = .1
    lines[:, ::12] = .1
    return {"colour bars": bars, "saturated": sat, "ramp": ramp, "lines": lines}
