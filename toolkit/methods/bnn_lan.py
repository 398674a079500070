"""BNN-LAN: spatially adaptive supervision (Li et al., "Spatially Adaptive Self-Supervised
Learning for Real-World Image Denoising", CVPR 2023; ../shared/papers/spatially-adaptive-ssid-cvpr2023.md).

Three networks trained one after another (Sec. 3, Fig. 2):

1. BNN, the blind-neighbourhood network, Eq. 1: L_BNN = |x^_1 - y|_1. Here the BNN *is* our
   AT-BSN teacher trained and applied with a 9x9 blind neighbourhood (k = 9 for training
   and inference; Fig. 6(a): 9x9 is the paper's optimum). No new code: ``train_teacher``.
2. Flatness (Eqs. 2-3): sigma = 7x7 local standard deviation of the BNN output averaged
   over RGB (0-255 units), turned into alpha by the piecewise sigmoid

        alpha = S(sigma - l)   if sigma <= l
                0.5            if l < sigma <= u
                S(sigma - u)   if sigma > u          (l = 1, u = 5; S = sigmoid)

   alpha is high in textured areas.
3. LAN, the locally aware network, Eq. 4: L_LAN = (1 - alpha) |sg(x~_1) - x~_2|_1. Stacked
   3x3 convolutions give a (2m+1)x(2m+1) receptive field (m = 1: 3x3, the paper's best),
   followed by 1x1 blocks with channel attention (RCAN, ref. [53]).
4. Denoising network (our student), Eq. 5:
        L_D = (1 - alpha) |sg(x~_1) - x^|_1 + alpha |sg(x~_2) - x^|_1

Only the student is deployed; BNN (a teacher file) and LAN (a "helper" file) stay in the
run folder.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.padding import run_padded


def local_std(x: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Eq. 2: standard deviation of the gray (RGB-mean) image over window x window patches, 0-255 units."""
    g = x.mean(dim=1, keepdim=True) * 255.0
    r = window // 2
    _, _, h, w = g.shape
    mode = "reflect" if h > r and w > r else "replicate"
    gp = F.pad(g, (r, r, r, r), mode=mode)
    m = F.avg_pool2d(gp, window, stride=1)
    m2 = F.avg_pool2d(gp * gp, window, stride=1)
    return (m2 - m * m).clamp_min(0).sqrt()


def flatness_alpha(bnn_out: torch.Tensor, window: int = 7, low: float = 1.0, high: float = 5.0) -> torch.Tensor:
    """Eq. 3: alpha in [0, 1], (B, 1, H, W); ~0 in flat areas, ~1 on texture and edges."""
    s = local_std(bnn_out, window)
    return torch.where(s <= low, torch.sigmoid(s - low),
                       torch.where(s <= high, torch.full_like(s, 0.5), torch.sigmoid(s - high)))


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


def bnn_output(bnn, y: torch.Tensor, blind_spot: int) -> torch.Tensor:
    with torch.no_grad():
        return bnn(y, blind_spot=blind_spot).detach()


def lan_loss(lan, bnn, y: torch.Tensor, blind_spot: int = 9, window: int = 7, low: float = 1.0,
             high: float = 5.0) -> torch.Tensor:
    """Eq. 4: mean of (1 - alpha) |sg(BNN(y)) - LAN(y)|."""
    x1 = bnn_output(bnn, y, blind_spot)
    alpha = flatness_alpha(x1, window, low, high)
    return ((1 - alpha) * (x1 - lan(y)).abs()).mean()


def student_loss(student, bnn, lan, y: torch.Tensor, blind_spot: int = 9, window: int = 7, low: float = 1.0,
                 high: float = 5.0) -> torch.Tensor:
    """Eq. 5: mean of (1 - alpha) |x - sg(BNN)| + alpha |x - sg(LAN)|."""
    x1 = bnn_output(bnn, y, blind_spot)
    with torch.no_grad():
        x2 = lan(y).detach()
    alpha = flatness_alpha(x1, window, low, high)
    multiple = getattr(student, "size_multiple", None) or student.module.size_multiple
    pred = run_padded(student, y, multiple)
    return ((1 - alpha) * (pred - x1).abs() + alpha * (pred - x2).abs()).mean()
