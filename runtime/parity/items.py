"""What a parity check runs on: named noisy images, with their ground truth where there is one.

``pair_items`` reads a paired set (core/pairs.py: PolyU, SIDD, two folders, .mat blocks),
``video_items`` the frames of a video (no ground truth). Both are re-iterable (each pass reads
the files again), so each model's run can take its own pass and nothing is held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np


@dataclass(frozen=True)
class Item:
    name: str                          # pair name, or frame_NNNNNN
    noisy: np.ndarray                  # uint8 HxWx3: what the models denoise
    clean: np.ndarray | None = None    # uint8 HxWx3 ground truth, None for video frames
    index: int | None = None           # a video frame's position in its source (a temporal model's order)


class Items:
    """A re-iterable sequence of :class:`Item`; ``mode`` is "pairs" or "video", ``count`` None if unknown."""

    def __init__(self, mode: str, make: Callable[[], Iterator[Item]], count: int | None = None, label: str = ""):
        self.mode, self._make, self.count, self.label = mode, make, count, label

    def __iter__(self) -> Iterator[Item]:
        return self._make()

    def __repr__(self) -> str:
        return f"Items({self.mode}, {self.label!r}, count={self.count})"


def pair_items(pairs, clean=None, *, every: int = 1, limit: int | None = None) -> Items:
    """Every ``every``-th pair of the set (at most ``limit``)."""
    from hushframe.core.pairs import find_pairs

    plist = find_pairs(pairs, clean)[::max(1, int(every))]
    if limit:
        plist = plist[:limit]

    def make():
        for p in plist:
            noisy, gt = p.load()
            yield Item(p.name, noisy, gt)

    return Items("pairs", make, len(plist), str(pairs))


def video_items(video, *, every: int = 1, max_frames: int = 30) -> Items:
    """Every ``every``-th frame of a video, at most ``max_frames`` of them."""
    every = max(1, int(every))

    def make():
        from ..sources import open_source

        with open_source(video) as src:
            for k, fr in enumerate(src):
                if k // every >= max_frames:
                    break
                if k % every == 0:
                    yield Item(f"frame_{fr.index:06d}", fr.image, index=fr.index)

    return Items("video", make, None, str(video))
