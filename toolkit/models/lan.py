"""LAN, the locally aware network of BNN-LAN (Li et al., CVPR 2023, Sec. 3.3; methods/bnn_lan.py trains it).

Stacked 3x3 convolutions give a (2m+1)x(2m+1) receptive field (m = 1: 3x3, the paper's best),
followed by 1x1 blocks with channel attention (RCAN). Registered as ``lan`` (kind "helper").
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class ChannelAttention(nn.Module):
    """RCAN channel attention: global average pool, 1x1 squeeze, ReLU, 1x1 excite, sigmoid gate."""

    def __init__(self, ch: int, reduction: int = 4):
        super().__init__()
        mid = max(1, ch // reduction)
        self.squeeze = nn.Conv2d(ch, mid, 1)
        self.excite = nn.Conv2d(mid, ch, 1)

    def forward(self, x):
        a = x.mean(dim=(2, 3), keepdim=True)
        return x * torch.sigmoid(self.excite(F.relu(self.squeeze(a))))


class PointBlock(nn.Module):
    """Residual 1x1 block with channel attention (refines colour without widening the receptive field)."""

    def __init__(self, ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(ch, ch, 1)
        self.conv2 = nn.Conv2d(ch, ch, 1)
        self.ca = ChannelAttention(ch)

    def forward(self, x):
        return x + self.ca(self.conv2(F.relu(self.conv1(x))))


class LAN(nn.Module):
    """Locally aware network: receptive field ``receptive`` x ``receptive`` (odd), then 1x1 CA blocks.

    Output = input + residual, so every output pixel depends only on its receptive-field
    neighbourhood (the channel attention's global pooling gates channels, as in RCAN).
    """

    def __init__(self, width: int = 64, receptive: int = 3, blocks: int = 4, in_ch: int = 3):
        super().__init__()
        if receptive < 1 or receptive % 2 == 0:
            raise ValueError(f"LAN receptive field must be odd, got {receptive}")
        self.config = dict(width=width, receptive=receptive, blocks=blocks, in_ch=in_ch)
        self.size_multiple = 1
        n3 = (receptive - 1) // 2
        layers: list[nn.Module] = []
        cin = in_ch
        for _ in range(n3):
            layers += [nn.Conv2d(cin, width, 3, padding=1), nn.ReLU(inplace=True)]
            cin = width
        if n3 == 0:
            layers += [nn.Conv2d(cin, width, 1), nn.ReLU(inplace=True)]
        self.head = nn.Sequential(*layers)
        self.body = nn.Sequential(*[PointBlock(width) for _ in range(blocks)])
        self.tail = nn.Conv2d(width, in_ch, 1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x):
        return x + self.tail(self.body(self.head(x)))
