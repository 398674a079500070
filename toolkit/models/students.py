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
import torch.nn.functional as F

from .layers import ConvLReLU, init_kaiming_leaky, upsample2x
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


class PaperStudentC(nn.Module):
    """The AT-BSN paper's own student C layout (1,021,107 parameters at width 48).

    Released self-supervised students (APR-RD and others) use it; keys ``enc1``..``enc6``,
    ``decN_2``/``decN_1``, ``dec1_1``. Unlike our student C (intro conv, input skip at the
    top) its first conv runs at full resolution and feeds the top skip:

        e1 = enc1(x); e_i = enc_i(pool(e_{i-1})) for i = 2..6
        d5 = dec5_1(dec5_2(cat(up(e6), e5))); d_i = dec_i_1(dec_i_2(cat(up(d_{i+1}), e_i)))
        out = dec1_1(dec1_2(cat(up(d2), e1)))            (dec1_1: 96 -> 3, no activation)

    Every other conv is 3x3 + LeakyReLU(0.1); 2x2 max pooling, nearest upsampling.
    """

    def __init__(self, width: int = 48, in_ch: int = 3, levels: int = 5):
        super().__init__()
        kw = dict(half_plane=False, bias=True)
        dec_w = 2 * width
        self.levels = levels
        self.size_multiple = 2 ** levels
        self.config = dict(width=width, in_ch=in_ch, levels=levels)
        for i in range(1, levels + 2):
            self.add_module(f"enc{i}", ConvLReLU(in_ch if i == 1 else width, width, **kw))
        for i in range(levels, 0, -1):
            up_ch = width if i == levels else dec_w
            self.add_module(f"dec{i}_2", ConvLReLU(up_ch + width, dec_w, **kw))
            if i > 1:
                self.add_module(f"dec{i}_1", ConvLReLU(dec_w, dec_w, **kw))
        self.dec1_1 = nn.Conv2d(dec_w, in_ch, 3, padding=1)
        init_kaiming_leaky(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.enc1(x)]
        for i in range(2, self.levels + 2):
            skips.append(getattr(self, f"enc{i}")(F.max_pool2d(skips[-1], 2)))
        h = skips.pop()
        for i in range(self.levels, 0, -1):
            h = getattr(self, f"dec{i}_2")(torch.cat((upsample2x(h), skips.pop()), dim=1))
            h = getattr(self, f"dec{i}_1")(h)
        return h


class _Block(nn.Module):
    """3x3 conv + ReLU, or its depthwise-separable form (3x3 per channel, then 1x1)."""

    def __init__(self, cin: int, cout: int, depthwise: bool):
        super().__init__()
        if depthwise:
            self.dw = nn.Conv2d(cin, cin, 3, padding=1, groups=cin)
            self.pw = nn.Conv2d(cin, cout, 1)
        else:
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.depthwise = depthwise

    def forward(self, x):
        x = self.pw(self.dw(x)) if self.depthwise else self.conv(x)
        return F.relu(x)


class CPUStudent(nn.Module):
    """A small residual UNet for CPU frame rates (issue 12's frontier), not from the paper.

    * Pixel-unshuffle by ``unshuffle`` first: the UNet runs at 1/u resolution on 3u^2
      channels, which cuts the work per pixel by ~u^2 at a given width; pixel-shuffle back.
    * Encoder level i has width * 2^i channels and ``convs`` blocks; 2x2 max pooling between
      levels. The decoder adds the upsampled coarse map (1x1-projected) to the skip, then
      ``convs`` blocks: additions, not concatenations, keep the top level cheap.
    * ReLU after every block (non-negative activations get unsigned INT8 codes on CPUs: twice the
      resolution of signed ones, export/qdq.py); the last conv
      predicts the residual, added to the (unshuffled) input before the pixel-shuffle (a small net
      learns "noise", not the image).
    * ``depthwise``: blocks below the top level are depthwise-separable.

    Training from scratch (issue 12 probes, L1 to classical labels of real photos): lr 5e-4 after
    200 warm-up steps learns (width 16, 1 conv per level: 4,000 steps of batch 16 at 96 px, about 10
    CPU-minutes); at lr >= 1e-3 the residual branch collapsed to the identity and stayed there (the
    first Adam steps grow the zero-initialised tail, and the cheapest way back to a small residual is
    to silence the features). Recipe ``student-cpu``.
    """

    def __init__(self, width: int = 16, levels: int = 2, unshuffle: int = 2, convs: int = 2,
                 depthwise: bool = False, in_ch: int = 3):
        super().__init__()
        self.config = dict(width=width, levels=levels, unshuffle=unshuffle, convs=convs, depthwise=depthwise, in_ch=in_ch)
        self.levels, self.unshuffle, self.convs = levels, unshuffle, convs
        self.size_multiple = unshuffle * 2 ** levels
        c0 = in_ch * unshuffle * unshuffle
        ws = [width * 2 ** i for i in range(levels + 1)]
        self.head = nn.Conv2d(c0, ws[0], 3, padding=1)
        self.enc = nn.ModuleList(nn.Sequential(*[_Block(ws[i - 1] if i and not j else ws[i], ws[i], depthwise and i > 0)
                                                 for j in range(convs)]) for i in range(levels + 1))
        self.up = nn.ModuleList(nn.Conv2d(ws[i + 1], ws[i], 1) for i in range(levels))
        self.dec = nn.ModuleList(nn.Sequential(*[_Block(ws[i], ws[i], depthwise and i > 0) for _ in range(convs)])
                                 for i in range(levels))
        self.tail = nn.Conv2d(ws[0], c0, 3, padding=1)
        init_kaiming_leaky(self)
        nn.init.zeros_(self.tail.weight)  # starts as the identity: training only has to learn the correction

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u = self.unshuffle
        xu = F.pixel_unshuffle(x, u) if u > 1 else x
        h = F.relu(self.head(xu))
        skips = []
        for i in range(self.levels + 1):
            if i:
                h = F.max_pool2d(h, 2)
            h = self.enc[i](h)
            skips.append(h)
        skips.pop()
        for i in range(self.levels - 1, -1, -1):
            h = self.dec[i](upsample2x(self.up[i](h)) + skips.pop())
        # x + shuffle(r) == shuffle(unshuffle(x) + r): adding at 1/u resolution lets the runtime fold
        # the residual into the tail conv (OpenVINO: 1080p cpu-fast 134 -> 114 ms, no full-frame Add).
        y = xu + self.tail(h)
        return F.pixel_shuffle(y, u) if u > 1 else y
