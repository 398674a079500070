"""Reflect-pad at the bottom/right to a multiple of the network's pooling factor.

This is the protocol of the published figures (reference/anchors.md): pad, run, crop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    # reflect needs pad < size; tiny inputs fall back to replicate.
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def run_padded(model, x: torch.Tensor, multiple: int, **kwargs) -> torch.Tensor:
    xp, (h, w) = pad_to_multiple(x, multiple)
    return model(xp, **kwargs)[..., :h, :w]
