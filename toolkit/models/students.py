"""Non-blind students distilled from the meta-teacher (AT-BSN supplement S6).

* Student A (~0.13 M): 2 poolings, one conv per encoder and decoder stage.
* Student B (~0.86 M): 2 poolings, 3 convs per encoder stage, 4 per decoder stage.
* Student C (1,003,011): the teacher's UNet without shifts, rotations or 1x1 fusion,
  with 3 output channels: 5 poolings, 1 conv per encoder, 2 per decoder stage.

A and B follow the official code (no bias, replicate padding); C matches the
published checkpoints (bias, zero padding) key for key, under ``unet.``.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .layers import init_kaiming_leaky
from .unet import UNet

STUDENT_LAYOUTS = {
    "a": dict(levels=2, enc_convs=1, dec_convs=1, intro=False, bias=False, padding_mode="replicate"),
    "b": dict(levels=2, enc_convs=3, dec_convs=4, intro=False, bias=False, padding_mode="replicate"),
    "c": dict(levels=5, enc_convs=1, dec_convs=2, intro=True, bias=True, padding_mode="zeros"),
}


class Student(nn.Module):
    """A plain (non-blind) UNet denoiser: RGB in [0,1] -> RGB."""

    def __init__(self, variant: str = "c", width: int = 48, in_ch: int = 3, **overrides):
        super().__init__()
        layout = dict(STUDENT_LAYOUTS[variant])
        layout.update(overrides)
        self.variant = variant
        self.config = dict(variant=variant, width=width, in_ch=in_ch, **overrides)
        self.size_multiple = 2 ** layout["levels"]
        self.unet = UNet(in_ch, in_ch, width=width, half_plane=False, **layout)
        init_kaiming_leaky(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Caller pads to ``size_multiple`` (see ``padding.run_padded``): keeps the graph export-clean."""
        return self.unet(x)

    @torch.no_grad()
    def init_from_teacher(self, teacher) -> int:
        """Copy every teacher UNet tensor whose name and shape match (S6: C is 'almost identical').

        Returns how many tensors were copied. Only the last decoder conv differs (96 -> 3
        channels instead of 96 -> 96) and stays freshly initialised.
        """
        src = teacher.unet.state_dict()
        dst = self.unet.state_dict()
        copied = 0
        for name, t in dst.items():
            if name in src and src[name].shape == t.shape:
                t.copy_(src[name])
                copied += 1
        return copied
