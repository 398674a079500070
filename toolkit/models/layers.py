"""Building blocks of the shifted-convolution (Laine et al. 2019) UNet used by AT-BSN.

Half-plane receptive fields: a 3x3 convolution sees rows i-1..i+1. Shifting its input
down by one row first (zero row on top, last row cropped) makes output row i see only
rows i-2..i, i.e. the upper half-plane *including* the centre row. Pooling gets the
same one-row shift so that after nearest upsampling no row sees a row below it. Stacking
such layers keeps every feature's receptive field inside the upward half-plane; the
teacher then shifts the final features by s more rows to open the blind spot.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

LEAKY_SLOPE = 0.1


def shift_down(x: torch.Tensor, rows: int) -> torch.Tensor:
    """M(x; s) of the paper: move the feature map down by `rows`, zero rows enter at the top."""
    if rows == 0:
        return x
    return F.pad(x, (0, 0, rows, 0))[:, :, : x.shape[2], :]


HALF_PLANE_EDGES = ("zeros", "replicate")


def pad_half_plane(x: torch.Tensor, left: int, right: int, top: int, edge: str) -> torch.Tensor:
    """Pad for a half-plane layer: nothing below (it never looks down), ``top`` rows above.

    ``edge="replicate"`` repeats the edge row/column outward. That is leak-free for a
    half-plane feature: row i's receptive field already contains row 0 (top copies) and
    every column of its rows (side copies), so no pixel below row i enters. Zeros (the
    paper) show the network a black frame around every image instead, a context whose
    effect on the deep features depends on the image size: the trained net is biased at
    the edges of images larger than its training crops (benchmarks/border.py).
    """
    if edge == "zeros":
        return F.pad(x, (left, right, top, 0))
    return F.pad(x, (left, right, top, 0), mode="replicate")


class ConvLReLU(nn.Module):
    """3x3 convolution followed by LeakyReLU(0.1).

    With ``half_plane=True`` this is the paper's shifted convolution: pad d = 1 row at
    the top (on top of the conv's own padding of 1), convolve, drop the last row, so the
    receptive field never reaches below the current row; here done as one pad of 2 rows
    above, 0 below, 1 each side, and an unpadded conv. The submodule is called ``conv``
    to keep the published checkpoints' keys.
    """

    def __init__(self, cin: int, cout: int, *, half_plane: bool, bias: bool = True, padding_mode: str = "zeros",
                 edge: str = "zeros"):
        super().__init__()
        self.half_plane = half_plane
        self.edge = edge
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=bias, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.half_plane:
            x = F.conv2d(pad_half_plane(x, 1, 1, 2, self.edge), self.conv.weight, self.conv.bias)
        else:
            x = self.conv(x)
        return F.leaky_relu(x, LEAKY_SLOPE)


class Pool(nn.Module):
    """2x2 max pooling; in half-plane mode after a one-row downward shift (paper, Sec. 3.2)."""

    def __init__(self, *, half_plane: bool, edge: str = "zeros"):
        super().__init__()
        self.half_plane = half_plane
        self.edge = edge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.half_plane:
            x = pad_half_plane(x, 0, 0, 1, self.edge)[:, :, : x.shape[2], :]
        return F.max_pool2d(x, 2)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, scale_factor=2.0, mode="nearest")


def rotate(x: torch.Tensor, quarter_turns: int) -> torch.Tensor:
    """Rotate NCHW by 90 degrees * quarter_turns (counter-clockwise), as torch.rot90 over (H, W).

    Written with flip/transpose (exact index permutations) rather than torch.rot90, which has no
    ONNX symbolic: the exporter traces this very function (Slice/Transpose), nothing is patched.
    """
    k = quarter_turns % 4
    if k == 0:
        return x
    if k == 1:
        return x.flip(3).transpose(2, 3)
    if k == 2:
        return x.flip(2).flip(3)
    return x.transpose(2, 3).flip(3)


@torch.no_grad()
def init_kaiming_leaky(module: nn.Module) -> None:
    """He initialisation for convs followed by LeakyReLU(0.1), zero biases (official AT-BSN init)."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, a=LEAKY_SLOPE)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
