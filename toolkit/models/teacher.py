"""AT-BSN teacher: a tunable blind-spot network (Chen et al., CVPR 2024, Sec. 3.2).

    I_pred = Conv1x1( [ rot^-r( M( UNet_half_plane( rot^r(I) ); s ) ) for r in 0..3 ] )    (Eq. 4-5)

1. The input is rotated by 0, 90, 180 and 270 degrees and each rotation goes through
   the same shifted-convolution UNet, whose features see only the upward half-plane of
   their rotated frame, centre row included.
2. Each feature map is shifted down by s rows (``shift_down``, the paper's M(.; s)), so
   it sees only rows at least s above the pixel.
3. The maps are rotated back, concatenated and fused by three 1x1 convolutions.

The four half-planes together leave a (2s-1) x (2s-1) square unseen: blind spot
k = 2s - 1, s = (k + 1) / 2; k = 0 (s = 0) is the non-blind teacher. Because the shift is
applied to features after extraction, k can be chosen freely at inference time, and one
set of features serves every k (the basis of cheap multi-teacher distillation).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from hushframe.core.contract import blind_spot_shift as shift_for_blind_spot  # the rule is the artifact contract's

from .layers import HALF_PLANE_EDGES, LEAKY_SLOPE, init_kaiming_leaky, rotate, shift_down
from .unet import UNet


class ATBSN(nn.Module):
    """The meta-teacher. ``forward(x, blind_spot=k)``; features once, fused per k."""

    def __init__(self, width: int = 48, levels: int = 5, in_ch: int = 3, blind_spot: int = 3, edge: str = "replicate"):
        super().__init__()
        if edge not in HALF_PLANE_EDGES:
            raise ValueError(f"edge must be one of {', '.join(HALF_PLANE_EDGES)}, got {edge!r}")
        self.config = dict(width=width, levels=levels, in_ch=in_ch, blind_spot=blind_spot, edge=edge)
        self.default_blind_spot = blind_spot
        self.edge = edge
        self.size_multiple = 2**levels
        feat = 2 * width
        self.unet = UNet(in_ch, feat, width=width, levels=levels, enc_convs=1, dec_convs=2,
                         intro=True, half_plane=True, bias=True, edge=edge)
        # 1x1 fusion of the four directional feature maps (4 * 2w channels).
        self.fuse1 = nn.Conv2d(4 * feat, 4 * feat, 1)
        self.fuse2 = nn.Conv2d(4 * feat, feat, 1)
        self.fuse3 = nn.Conv2d(feat, in_ch, 1)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self):
        init_kaiming_leaky(self)
        nn.init.kaiming_normal_(self.fuse3.weight, nonlinearity="linear")  # no activation after it

    # -- the two halves of Eq. 5, kept apart so distillation can share the first one --
    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Half-plane UNet features of the 4 rotations, each in its own rotated frame.

        Any H x W: each rotated frame is padded to the size multiple at *its* bottom and
        right, where its half-plane features never look for rows below, then cropped back.
        Padding the upright input instead (bottom/right, reflect) puts the padding at the
        top of the 180-degree frame (and at a side edge's top in the 90/270 ones), where
        the pixels near the edge see mirrored copies of themselves: a leak into the blind spot.
        """
        if x.shape[2] == x.shape[3]:
            # Square input: one batched pass over all four rotations.
            out = self._unet_padded(torch.cat([rotate(x, r) for r in range(4)], dim=0))
            return list(out.chunk(4, dim=0))
        # Non-square: rotations 0/180 and 90/270 share a shape, two passes.
        a = self._unet_padded(torch.cat([x, rotate(x, 2)], dim=0)).chunk(2, dim=0)
        b = self._unet_padded(torch.cat([rotate(x, 1), rotate(x, 3)], dim=0)).chunk(2, dim=0)
        return [a[0], b[0], a[1], b[1]]

    def _unet_padded(self, xr: torch.Tensor) -> torch.Tensor:
        h, w = xr.shape[2], xr.shape[3]
        m = self.size_multiple
        ph, pw = (m - h % m) % m, (m - w % m) % m
        xp = F.pad(xr, (0, pw, 0, ph), mode="replicate" if self.edge == "replicate" else "constant")
        return self.unet(xp)[:, :, :h, :w]

    def fuse(self, feats: list[torch.Tensor], blind_spot: int) -> torch.Tensor:
        """Shift each directional map by s, rotate it back, concatenate, 1x1 convs."""
        s = shift_for_blind_spot(blind_spot)
        back = [rotate(shift_down(f, s), -r) for r, f in enumerate(feats)]
        h = torch.cat(back, dim=1)
        h = F.leaky_relu(self.fuse1(h), LEAKY_SLOPE)
        h = F.leaky_relu(self.fuse2(h), LEAKY_SLOPE)
        return self.fuse3(h)

    def forward(self, x: torch.Tensor, blind_spot: int | None = None, pad: bool = True) -> torch.Tensor:
        """Any H x W (``pad`` is accepted for old callers: the teacher always pads itself, leak-free)."""
        k = self.default_blind_spot if blind_spot is None else blind_spot
        return self.fuse(self.features(x), k)

    def forward_many(self, x: torch.Tensor, blind_spots: list[int]) -> list[torch.Tensor]:
        """Outputs of several teachers from one feature extraction (supplement S6 cost).

        The first 1x1 fusion conv is linear and pointwise, so it commutes with the shift
        and the rotation: fuse1(cat_r rot_r^-1 M(f_r; s)) = b + sum_r rot_r^-1 M(W_r f_r; s),
        where W_r is the block of fuse1's weight that reads direction r. Projecting each
        direction once (``project``) leaves only shifts, additions and the two small 1x1
        convs per teacher; otherwise the 384-channel fuse1 would run once per k and cost
        more than the four UNet passes.
        """
        proj = self.project(self.features(x))
        # Without autograd one sum buffer serves every teacher: the 4w-channel map is large,
        # and allocating (and page-faulting) it afresh per k costs as much as the adds.
        buf = None if torch.is_grad_enabled() else torch.empty_like(proj[0])
        return [self.fuse_projected(proj, k, buf) for k in blind_spots]

    def project(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """W_r f_r for each direction r (fuse1's input block r, no bias), rotated back once."""
        c = feats[0].shape[1]
        weight = self.fuse1.weight
        # fuse1's bias rides on direction 0's projection (see fuse_projected).
        return [rotate(F.conv2d(f, weight[:, r * c:(r + 1) * c], self.fuse1.bias if r == 0 else None), -r)
                for r, f in enumerate(feats)]

    def fuse_projected(self, proj: list[torch.Tensor], blind_spot: int, buffer: torch.Tensor | None = None) -> torch.Tensor:
        """Same result as ``fuse(feats, k)`` from projected, rotated-back features.

        Shifting down by s in rotation r's frame is, in the upright frame, a shift down (r=0),
        left (r=1), up (r=2) or right (r=3); each map is added into the sum through slices,
        so no shifted or rotated copy of the 4w-channel maps is made per teacher.
        """
        s = shift_for_blind_spot(blind_spot)
        u0, u1, u2, u3 = proj
        height, width = u0.shape[2], u0.shape[3]
        h = torch.empty_like(u0) if buffer is None else buffer
        h[:, :, s:, :] = u0[:, :, :height - s, :]           # r = 0: down (u0 carries the bias)
        h[:, :, :s, :] = self.fuse1.bias.view(1, -1, 1, 1)  # rows shifted in from outside: bias only
        h[:, :, :, :width - s] += u1[:, :, :, s:]           # r = 1: left
        h[:, :, :height - s, :] += u2[:, :, s:, :]          # r = 2: up
        h[:, :, :, s:] += u3[:, :, :, :width - s]           # r = 3: right
        h = F.leaky_relu_(h, LEAKY_SLOPE) if not torch.is_grad_enabled() else F.leaky_relu(h, LEAKY_SLOPE)
        h = F.leaky_relu(self.fuse2(h), LEAKY_SLOPE)
        return self.fuse3(h)
