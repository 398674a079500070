"""Reflect-pad at the bottom/right to a multiple of the network's pooling factor.

This is the protocol of the published figures: pad, run, crop; the torch form of
``hushframe.core.contract.pad_chw`` (same rule for when to fall back from reflect).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hushframe.core.contract import pad_mode


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (h, w)
    mode = {"reflect": "reflect", "edge": "replicate"}[pad_mode(h, w, ph, pw)]   # numpy's "edge" = torch's
    return F.pad(x, (0, pw, 0, ph), mode=mode), (h, w)


def run_padded(model, x: torch.Tensor, multiple: int, **kwargs) -> torch.Tensor:
    xp, (h, w) = pad_to_multiple(x, multiple)
    return model(xp, **kwargs)[..., :h, :w]
