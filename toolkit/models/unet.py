"""One UNet family for the teacher's shifted UNet and students A, B, C.

Structure (Lehtinen/Laine Noise2Noise UNet, as in the AT-BSN code):

    [intro conv] -> enc1 (convs, pool) -> ... -> enc_L (convs, pool) -> enc_{L+1} (convs)
    -> dec_L (upsample, concat skip from enc_{L-1}, convs) -> ... -> dec_1 (concat input, convs)

Every convolution is followed by LeakyReLU(0.1), the last one included (as in the
published student C). Module names follow the published checkpoints
(`intro.conv`, `encN.convM.conv`, `decN.convM.conv`) so they load without renaming.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .layers import ConvLReLU, Pool, upsample2x


def _chain(cin: int, mid: int, cout: int, n: int) -> list[tuple[int, int]]:
    widths = [cin] + [mid] * (n - 1) + [cout]
    return list(zip(widths[:-1], widths[1:]))


class EncStage(nn.Module):
    def __init__(self, cin, mid, cout, n_convs, *, pool, half_plane, bias, padding_mode, edge):
        super().__init__()
        for j, (a, b) in enumerate(_chain(cin, mid, cout, n_convs), start=1):
            self.add_module(f"conv{j}", ConvLReLU(a, b, half_plane=half_plane, bias=bias, padding_mode=padding_mode, edge=edge))
        self.n_convs = n_convs
        self.pool = Pool(half_plane=half_plane, edge=edge) if pool else None

    def forward(self, x):
        for j in range(1, self.n_convs + 1):
            x = getattr(self, f"conv{j}")(x)
        return self.pool(x) if self.pool is not None else x


class DecStage(nn.Module):
    def __init__(self, cin, mid, cout, n_convs, *, half_plane, bias, padding_mode, edge):
        super().__init__()
        for j, (a, b) in enumerate(_chain(cin, mid, cout, n_convs), start=1):
            self.add_module(f"conv{j}", ConvLReLU(a, b, half_plane=half_plane, bias=bias, padding_mode=padding_mode, edge=edge))
        self.n_convs = n_convs

    def forward(self, x, skip):
        x = torch.cat((upsample2x(x), skip), dim=1)
        for j in range(1, self.n_convs + 1):
            x = getattr(self, f"conv{j}")(x)
        return x


class UNet(nn.Module):
    """Configurable UNet.

    Args:
        levels: number of 2x2 poolings (5 for the teacher and student C, 2 for A and B).
        width: encoder channels; the decoder uses ``2 * width``.
        enc_convs / dec_convs: convolutions per encoder / decoder stage.
        intro: a first 3x3 conv before enc1 (teacher and student C have one).
        half_plane: shifted convolutions and pooling (teacher); plain ones (students).
        edge: what half-plane layers see beyond the image edge ("zeros" or "replicate", see layers.py).
    """

    def __init__(
        self,
        in_ch: int = 3,
        out_ch: int = 3,
        width: int = 48,
        levels: int = 5,
        enc_convs: int = 1,
        dec_convs: int = 2,
        intro: bool = True,
        half_plane: bool = False,
        bias: bool = True,
        padding_mode: str = "zeros",
        edge: str = "zeros",
    ):
        super().__init__()
        kw = dict(half_plane=half_plane, bias=bias, padding_mode=padding_mode, edge=edge)
        dec_w = 2 * width
        self.levels = levels
        self.intro = ConvLReLU(in_ch, width, **kw) if intro else None
        first_in = width if intro else in_ch
        for i in range(1, levels + 1):
            self.add_module(f"enc{i}", EncStage(first_in if i == 1 else width, width, width, enc_convs, pool=True, **kw))
        # The bottleneck stage widens to 2*width in its middle convs (student B) when it has several.
        self.add_module(f"enc{levels + 1}", EncStage(width, dec_w, width, enc_convs, pool=False, **kw))
        for i in range(levels, 0, -1):
            up_ch = width if i == levels else dec_w
            skip_ch = in_ch if i == 1 else width
            cout = out_ch if i == 1 else dec_w
            self.add_module(f"dec{i}", DecStage(up_ch + skip_ch, dec_w, cout, dec_convs, **kw))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        h = self.intro(x) if self.intro is not None else x
        for i in range(1, self.levels + 1):
            h = getattr(self, f"enc{i}")(h)
            skips.append(h)
        h = getattr(self, f"enc{self.levels + 1}")(h)
        skips.pop()  # the deepest pooled map feeds the bottleneck, not a skip
        for i in range(self.levels, 0, -1):
            h = getattr(self, f"dec{i}")(h, skips.pop())
        return h
