"""A temporal AT-BSN teacher: blind in the current frame, seeing its neighbours (issue 26, route (a)).

AT-BSN (Chen et al., CVPR 2024, Sec. 3.2; models/teacher.py) predicts a pixel from the half-planes
around it, each shifted by s rows, so that a (2s-1) x (2s-1) square of the noisy frame is unseen and
its spatially correlated noise cannot be copied. Across time, the frame's neighbours show the same
scene under noise that is independent of the frame's own, so they need no blind spot at all:

    I_pred = base(N_t, I_t; k) + Fuse( [ rot^-r M( UNet_hp( rot^r I_t ); s ) ]_r=0..3 ,  C( N_t ) )

* I_t: the current noisy frame, pixel-unshuffled by u = 2 (2x2 blocks as channels: the CPU students'
  layout, 4x fewer positions, which made a CPU step affordable), through AT-BSN's half-plane UNet,
  rotations and shift (unchanged): the blind spot k counts blocks, so the unseen square is k blocks of
  2x2 pixels around the pixel's block, (2k) x (2k) pixels, wider than a demosaiced camera's noise
  correlation at k = 3;
* N_t: the 2K neighbours I_{t+k} (k = +-1..+-K) moved onto frame t along the motion, each with its
  validity mask (occluded and out-of-frame pixels are zero, mask 0): never a pixel of I_t, or the
  blind spot would leak through the context;
* C: a plain (not half-plane) UNet of the same family over N_t (unshuffled as I_t): it may see every
  neighbour pixel;
* Fuse: AT-BSN's three 1x1 convolutions, over the four directional maps and C's map. Being pointwise,
  it adds no view of I_t beyond what the shifted maps hold, so the prediction at p never depends on
  I_t inside the blind square around p's block (tests/test_temporal_teacher.py checks it by gradient);
* the prediction is a correction of a base that needs no training: the valid neighbours' mean (given
  to C too, with their count), and where no neighbour is valid (occlusions, a clip's first and last
  frames), the mean of I_t over a ring of RING blocks just outside the blind square (``ring_mean``: it
  sees nothing the shifted maps may not). A first version that had to rebuild the image from nothing ended
  its 8 CPU minutes far below the noisy frame, and a base of zero where no neighbour is valid was as bad on
  moving clips (exploratory runs, not kept).

Self-supervised as AT-BSN: loss || I_pred - I_t || over noisy frames only. Trained at a large blind
spot and run at a smaller one (the paper's tunable blind spot: features once, any k at inference).

Offline and non-causal: it sees the future, so it is a teacher that labels a clip for a causal
student (training/temporal_teacher.py), never the model a camera runs.

What 8 CPU minutes made of it (BENCHMARKS.md "video-routes-moderate-a", "video-teacher-base"): where three
or four neighbours are valid (89-100% of pixels) it is within 0.3 dB of their mean, and where fewer are it
is worse than it on bikes: the blind-spot branch's correction had not learned to beat the mean. Where the
offline flow passes its check but is wrong (the small carphone clip) it trusts the wrong neighbours:
32.0 dB against 36.8 for the noisy frame.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from hushframe.core.contract import blind_spot_shift

from .layers import LEAKY_SLOPE, rotate, shift_down
from .teacher import ATBSN
from .unet import UNet

NEIGHBOUR_OFFSETS = (-2, -1, 1, 2)   # K = 2: two frames each side, as UDVD's five-frame window
RING = 2                             # blocks each side of the blind square that ring_mean averages


def ring_mean(xb: torch.Tensor, blind_spot: int) -> torch.Tensor:
    """The mean of block map ``xb`` (N x C x h x w) over the (k + 2 RING)^2 square around each block minus
    the k x k blind square (k = blind_spot, odd: the blocks within (k - 1) / 2 of it); edges: the blocks
    that exist."""
    k = max(int(blind_spot), 1)
    big = k + 2 * RING
    ring = torch.ones(1, 1, big, big, dtype=xb.dtype, device=xb.device)
    ring[..., RING:RING + k, RING:RING + k] = 0          # exact zeros: the blind square is never read
    c = xb.shape[1]
    total = F.conv2d(xb, ring.expand(c, 1, big, big), padding=big // 2, groups=c)
    count = F.conv2d(torch.ones_like(xb[:, :1]), ring, padding=big // 2)
    return total / count


class TemporalATBSN(ATBSN):
    """``forward(x, neighbours, blind_spot=k)``: x N x 3 x H x W, ``neighbours`` N x 4*len(offsets) x H x W
    (RGB + mask each), H and W even."""

    def __init__(self, width: int = 16, levels: int = 3, blind_spot: int = 3, neighbours: int = len(NEIGHBOUR_OFFSETS),
                 context_width: int = 24, unshuffle: int = 2, edge: str = "replicate"):
        u = unshuffle
        super().__init__(width=width, levels=levels, in_ch=3 * u * u, blind_spot=blind_spot, edge=edge)
        self.config = dict(width=width, levels=levels, blind_spot=blind_spot, neighbours=neighbours,
                           context_width=context_width, unshuffle=u, edge=edge)
        self.unshuffle = u
        self.neighbours = neighbours
        feat = 2 * width
        self.context = UNet((neighbours * 4 + 4) * u * u, feat, width=context_width, levels=levels, enc_convs=1,
                            dec_convs=2, intro=True, half_plane=False, padding_mode="replicate")
        # fuse1 reads the four directional maps (as AT-BSN) and the context map
        self.fuse1 = nn.Conv2d(5 * feat, 4 * feat, 1)
        self._init_weights()   # AT-BSN's init, over the new layers too
        nn.init.zeros_(self.fuse3.weight)   # starts as the neighbours' mean
        nn.init.zeros_(self.fuse3.bias)

    def context_features(self, nb: torch.Tensor) -> torch.Tensor:
        """C(N_t) on the unshuffled neighbours, padded to the UNet's multiple and cropped back."""
        h, w = nb.shape[2], nb.shape[3]
        m = self.size_multiple
        ph, pw = (m - h % m) % m, (m - w % m) % m
        return self.context(F.pad(nb, (0, pw, 0, ph), mode="replicate"))[:, :, :h, :w]

    def fuse_with_context(self, feats: list[torch.Tensor], ctx: torch.Tensor, blind_spot: int) -> torch.Tensor:
        s = blind_spot_shift(blind_spot)
        h = torch.cat([rotate(shift_down(f, s), -r) for r, f in enumerate(feats)] + [ctx], dim=1)
        h = F.leaky_relu(self.fuse1(h), LEAKY_SLOPE)
        h = F.leaky_relu(self.fuse2(h), LEAKY_SLOPE)
        return F.pixel_shuffle(self.fuse3(h), self.unshuffle)

    def base(self, x: torch.Tensor, mean: torch.Tensor, cnt: torch.Tensor, blind_spot: int) -> torch.Tensor:
        """The neighbours' mean where one is valid, else I_t's ring mean outside the blind square."""
        u = self.unshuffle
        ring = F.interpolate(ring_mean(F.avg_pool2d(x, u), blind_spot), scale_factor=u, mode="nearest")
        return torch.where(cnt > 0, mean, ring)

    def neighbour_mean(self, nb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean of the valid neighbours, 0 where none; how many are valid) from RGB + mask stacks."""
        n = nb.reshape(nb.shape[0], self.neighbours, 4, *nb.shape[2:])
        m = n[:, :, 3:4]
        cnt = m.sum(1)
        return (n[:, :, :3] * m).sum(1) / cnt.clamp(min=1.0), cnt

    def _parts(self, x, nb):
        u = self.unshuffle
        if x.shape[2] % u or x.shape[3] % u:
            raise ValueError(f"the temporal teacher takes frames whose sides are multiples of {u}, not "
                             f"{x.shape[3]}x{x.shape[2]}")
        mean, cnt = self.neighbour_mean(nb)
        ctx_in = torch.cat([nb, mean, cnt / self.neighbours], 1)
        return self.features(F.pixel_unshuffle(x, u)), self.context_features(F.pixel_unshuffle(ctx_in, u)), mean, cnt

    def forward(self, x: torch.Tensor, neighbours: torch.Tensor, blind_spot: int | None = None) -> torch.Tensor:
        return self.forward_many(x, neighbours, [self.default_blind_spot if blind_spot is None else blind_spot])[0]

    def forward_many(self, x: torch.Tensor, neighbours: torch.Tensor, blind_spots: list[int]) -> list[torch.Tensor]:
        """Several blind spots from one pass of both branches (the tunable blind spot's point)."""
        feats, ctx, mean, cnt = self._parts(x, neighbours)
        return [self.base(x, mean, cnt, k) + self.fuse_with_context(feats, ctx, k) for k in blind_spots]
