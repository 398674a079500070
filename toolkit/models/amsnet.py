"""The AMSNet denoiser (Liao et al., ECCV 2024): pixel-shuffle downsampling and the multi-mask
scheme around a pluggable D_E (Eqs. 5-8). methods/amsnet.py has the losses and the stages;
registry.py's ``amsnet`` builds it with D_E made by name (a registered student).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .padding import pad_to_multiple, run_padded


def pd_down(x: torch.Tensor, s: int) -> torch.Tensor:
    """P_s: (B, C, H, W) with H, W multiples of s -> (B * s^2, C, H/s, W/s)."""
    if s == 1:
        return x
    b, c, h, w = x.shape
    u = F.pixel_unshuffle(x, s)  # B, C*s*s, H/s, W/s  (channel = c*s*s + i*s + j)
    return u.view(b, c, s * s, h // s, w // s).transpose(1, 2).reshape(b * s * s, c, h // s, w // s)


def pd_up(x: torch.Tensor, s: int) -> torch.Tensor:
    """P_s^-1, the inverse of ``pd_down``."""
    if s == 1:
        return x
    bs, c, h, w = x.shape
    b = bs // (s * s)
    u = x.view(b, s * s, c, h, w).transpose(1, 2).reshape(b, c * s * s, h, w)
    return F.pixel_shuffle(u, s)


def branch_assignment(shape, k: int, device, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 1, H, W) ints in [0, k): pixel p is restored by branch assignment[p] (Eq. 5)."""
    b, _, h, w = shape
    return torch.randint(0, k, (b, 1, h, w), device=device, generator=generator)


class AMSNet(nn.Module):
    """The multi-mask denoiser (Eqs. 5-8) around a pluggable D_E; ``forward(x)`` denoises a whole image."""

    def __init__(self, denoiser: nn.Module, infer_stride: int = 2, branches: int = 2, config: dict | None = None):
        """``denoiser``: D_E, any network (the registry's ``amsnet`` builds it by name, registry.py);
        ``config``: what rebuilds this network from a weights file."""
        super().__init__()
        self.config = dict(config or {}, infer_stride=infer_stride, branches=branches)
        self.denoiser = denoiser
        self.infer_stride = infer_stride
        self.branches = branches
        self.size_multiple = infer_stride

    def restore(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """D_E(M * x), padded to the denoiser's multiple; ``keep`` is M (1 = visible)."""
        return run_padded(self.denoiser, x * keep, self.denoiser.size_multiple)

    def multi_mask(self, x: torch.Tensor, stride: int, branches: int, generator=None) -> torch.Tensor:
        """Eqs. 7-8 on an image whose sides are multiples of ``stride``."""
        sub = pd_down(x, stride)
        assign = branch_assignment(sub.shape, branches, sub.device, generator)
        out = torch.zeros_like(sub)
        for i in range(branches):
            restored = (assign == i).to(sub.dtype)
            out = out + restored * self.restore(sub, 1 - restored)
        return pd_up(out, stride)

    def forward(self, x: torch.Tensor, stride: int | None = None, generator: torch.Generator | None = None,
                raw: bool = False):
        """Whole-image denoising (Eqs. 5-8); ``raw=True``: D_E alone on an already masked input.

        The training losses call the module itself (never ``.denoiser``) so that DDP sees the forward.
        """
        if raw:
            return run_padded(self.denoiser, x, self.denoiser.size_multiple)
        s = stride or self.infer_stride
        if generator is None and not self.training:
            # Fixed masks in eval mode: the same image always gives the same output.
            generator = torch.Generator(device=x.device).manual_seed(0)
        xp, (h, w) = pad_to_multiple(x, s)
        return self.multi_mask(xp, s, self.branches, generator)[..., :h, :w]
