"""Frames larger than the engine's maximum shape: overlapping tiles, blended with smooth weights.

Tiles of the largest accepted size are laid out with at least ``overlap`` pixels shared
between neighbours; every tile's output is weighted by a window that rises from near zero
at an inner tile edge to 1 across the overlap (raised cosine) and stays 1 at the frame
border, then the weighted sum is normalised. A network sees zero padding at a tile edge,
so its output is least trustworthy there; the window gives those pixels the least weight
and the cross-fade leaves no step at the seam (tests compare the seam band with an untiled run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import ShapeError


@dataclass(frozen=True)
class Tile:
    y: int
    x: int
    h: int
    w: int


def needs_tiling(info, h: int, w: int) -> bool:
    return info.max_hw is not None and (h > info.max_hw[0] or w > info.max_hw[1])


def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if tile >= length:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return sorted(set(starts))


def plan_tiles(h: int, w: int, tile_hw: tuple[int, int], overlap: int) -> list[Tile]:
    th, tw = min(tile_hw[0], h), min(tile_hw[1], w)
    return [Tile(y, x, th, tw) for y in _starts(h, th, overlap) for x in _starts(w, tw, overlap)]


def _ramp(n: int, lo_edge: bool, hi_edge: bool, ramp: int) -> np.ndarray:
    """1-D weights: raised-cosine rise over ``ramp`` px at inner edges, flat 1 at frame borders."""
    wgt = np.ones(n, dtype=np.float32)
    r = min(ramp, n // 2)
    if r > 0:
        t = (np.arange(r, dtype=np.float32) + 0.5) / r
        rise = 0.5 - 0.5 * np.cos(np.pi * t)
        if lo_edge:
            wgt[:r] = rise
        if hi_edge:
            wgt[n - r:] = rise[::-1]
    return wgt


def tile_weights(t: Tile, h: int, w: int, ramp: int) -> np.ndarray:
    wy = _ramp(t.h, t.y > 0, t.y + t.h < h, ramp)
    wx = _ramp(t.w, t.x > 0, t.x + t.w < w, ramp)
    return wy[:, None] * wx[None, :]


def tile_size(info, h: int, w: int) -> tuple[int, int]:
    if info.max_hw is None:
        return h, w
    m = max(1, info.size_multiple)
    th = min(h, info.max_hw[0] - info.max_hw[0] % m)
    tw = min(w, info.max_hw[1] - info.max_hw[1] % m)
    if th < max(m, info.min_hw[0]) or tw < max(m, info.min_hw[1]):
        raise ShapeError(f"engine maximum {info.max_hw[0]}x{info.max_hw[1]} is below its own multiple {m}: cannot tile")
    return th, tw


def infer_tiled(backend, x: np.ndarray, overlap: int = 32, batch: int | None = None,
                blend: bool = True) -> np.ndarray:
    """x: float32 3xHxW (already padded to the multiple) -> float32 3xHxW, tile by tile.

    ``blend=False`` pastes hard-cut tiles (for comparison only).
    """
    info = backend.info
    _, h, w = x.shape
    th, tw = tile_size(info, h, w)
    if overlap >= min(th, tw):
        raise ShapeError(f"tile overlap {overlap} must be smaller than the tile {th}x{tw}")
    tiles = plan_tiles(h, w, (th, tw), overlap)
    nb = max(1, batch or info.max_batch or 1)
    acc = np.zeros((3, h, w), dtype=np.float32)
    wsum = np.zeros((h, w), dtype=np.float32)
    for i in range(0, len(tiles), nb):
        group = tiles[i:i + nb]
        xb = np.stack([x[:, t.y:t.y + t.h, t.x:t.x + t.w] for t in group])
        yb = backend.infer(xb)
        for t, y in zip(group, yb):
            if blend:
                wt = tile_weights(t, h, w, overlap)
            else:
                wt = np.zeros((t.h, t.w), np.float32)
                # hard cut: each pixel from the tile whose centre is nearest (Voronoi on the grid)
                wt[:] = 1.0
                acc[:, t.y:t.y + t.h, t.x:t.x + t.w] = y
                continue
            acc[:, t.y:t.y + t.h, t.x:t.x + t.w] += y * wt
            wsum[t.y:t.y + t.h, t.x:t.x + t.w] += wt
    if blend:
        acc /= np.maximum(wsum, 1e-8)
    return acc
