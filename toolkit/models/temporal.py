"""A temporal student for video: accumulate along motion, then refine (not from the papers).

A frame's neighbours show the same scene under independent noise. This student keeps, per
pixel, a gated running mean of the noisy frames it has seen (aligned to the current frame by
the caller, core/temporal.py) and how many frames that mean holds; a small network decides
how much of that history still belongs to the pixel, and the per-frame student refines the
mean into the output:

    r      = mean4x4((x - m)^2) / var(x)        how far the new frame sits from the mean, in units
                                                of the camera's noise (var: a learned shot + read
                                                noise model of brightness)
    g      = sigmoid(a - b log r + gate(x, m, n, log r))
                                                in [0,1]: how much history to keep (motion,
                                                occlusion, scene change -> 0). The first term is a
                                                classical motion detector: history that agrees
                                                with the frame to within its noise (r ~ 1 + 1/n)
                                                is kept, history far off is dropped; the small
                                                network learns what the detector misses
    n'     = min(g * n + 1, n_max)              frames in the new mean
    m'     = (g * n * m + x) / (g * n + 1)      the gated running mean, unbiased: no smoothing
                                                is ever fed back, so detail survives any run
                                                of frames
    y      = m' + R(m', x - m', 1 - 1/sqrt(n')) / sqrt(n')
                                                the per-frame student S's network R (S(x) = x +
                                                R(x)) refines the mean, told how far the new frame
                                                sits from it and how many frames it holds; its
                                                correction is scaled by the noise the mean has
                                                left (1/sqrt(n')): a correction learned on one
                                                frame's noise would blur a mean of 20 frames. (Its
                                                targets are future frames moved by an estimated
                                                flow, slightly blurred at texture; unscaled, the
                                                refiner fell 2 dB below its own mean after 20
                                                static frames.)

* first frame / after a reset (state zero): n' = 1, m' = x, and both extra inputs are exactly
  zero (``extra`` has no bias), so y = S(x): the temporal student IS its per-frame student on
  a still, by construction (issue 26 item 5: stills must not regress);
* S is ``CPUStudent`` (students.py), so a trained per-frame student (cpu-fast, cpu-mid)
  initialises it weight for weight (``init_from_student``);
* the gate runs at 1/4 resolution (pixel-unshuffled, 16 gate values per position shuffled back):
  motion decisions need context, not per-pixel cost. Its detector term is what makes it work
  from the first training step: a learned gate alone settled, after 16 CPU minutes, on keeping
  ~40% of history everywhere (static scenes and fast motion alike, 3 dB of a possible 9 lost on
  a static camera);
* the count is clamped at 0 as it comes in: the bicubic alignment (core/temporal.py) rings a
  little where history ends;
* the state is the model's second input and output (``forward(input, state_in) -> (output,
  state_out)``), so ONNX / OpenVINO / TensorRT run it as a plain graph; its layout is the
  contract of core/temporal.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from hushframe.core.temporal import STATE_CHANNELS

from .layers import upsample2x
from .students import CPUStudent

GATE_UNSHUFFLE = 4


class TemporalStudent(nn.Module):
    temporal = True

    def __init__(self, width: int = 16, levels: int = 2, unshuffle: int = 2, convs: int = 1, gate_width: int = 16,
                 n_max: float = 32.0, in_ch: int = 3):
        super().__init__()
        if in_ch != 3:
            raise ValueError("the temporal student takes RGB frames (in_ch 3)")
        self.config = dict(width=width, levels=levels, unshuffle=unshuffle, convs=convs, gate_width=gate_width,
                           n_max=n_max)
        self.n_max = float(n_max)
        self.spatial = CPUStudent(width=width, levels=levels, unshuffle=unshuffle, convs=convs)
        u = unshuffle
        self.size_multiple = max(self.spatial.size_multiple, GATE_UNSHUFFLE)
        # what the refiner is told beyond the mean: the new frame's deviation (3) and the noise left (1)
        self.extra = nn.Conv2d(4 * u * u, self.spatial.head.out_channels, 3, padding=1, bias=False)
        nn.init.zeros_(self.extra.weight)
        g2 = GATE_UNSHUFFLE ** 2
        self.gate = nn.Sequential(
            nn.Conv2d(7 * g2 + 1, gate_width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(gate_width, gate_width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(gate_width, g2, 3, padding=1))
        nn.init.zeros_(self.gate[-1].weight)
        nn.init.zeros_(self.gate[-1].bias)
        # the camera's noise variance (0-1 scale) as shot * brightness + read, log-parametrised; starts at a
        # moderate camera's (37 dB noisy at mid grey) and is learned per camera from its own video
        self.log_shot = nn.Parameter(torch.tensor(math.log(2e-4)))
        self.log_read = nn.Parameter(torch.tensor(math.log(2e-5)))
        # detector: sigmoid(3 - 1.5 log r): r = 1 (agrees) -> 0.95, r = 5 -> 0.64, r = 20 -> 0.18
        self.detector = nn.Parameter(torch.tensor([3.0, 1.5]))

    @property
    def state_channels(self) -> int:
        return STATE_CHANNELS

    def init_from_student(self, student: CPUStudent) -> None:
        """The per-frame path starts as a trained per-frame student (same width/levels/convs)."""
        self.spatial.load_state_dict(student.state_dict())

    def gate_values(self, x: torch.Tensor, m: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        q = GATE_UNSHUFFLE
        d = x - m
        energy = F.avg_pool2d((d * d).mean(1, keepdim=True), q)
        var = torch.exp(self.log_shot) * F.avg_pool2d(x.mean(1, keepdim=True), q) + torch.exp(self.log_read)
        log_r = torch.log(energy / var + 1e-3)
        conf = n / (n + 1.0)
        gi = F.pixel_unshuffle(torch.cat([d, m, conf], 1), q)
        logits = self.detector[0] - self.detector[1] * log_r + self.gate(torch.cat([gi, log_r], 1))
        return torch.sigmoid(F.pixel_shuffle(logits, q))

    def step(self, x: torch.Tensor, m: torch.Tensor, n: torch.Tensor):
        """One frame: (x, aligned mean, aligned count) -> (output, mean', count', gate)."""
        n = F.relu(n)
        g = self.gate_values(x, m, n)
        gn = g * n
        n2 = torch.clamp(gn + 1.0, max=self.n_max)
        m2 = (gn * m + x) / (gn + 1.0)
        level = 1.0 - torch.rsqrt(n2)
        s = self.spatial
        u = s.unshuffle
        mu = F.pixel_unshuffle(m2, u) if u > 1 else m2
        extra_in = torch.cat([x - m2, level], 1)
        extra_in = F.pixel_unshuffle(extra_in, u) if u > 1 else extra_in
        h = F.relu(s.head(mu) + self.extra(extra_in))
        skips = []
        for i in range(s.levels + 1):
            if i:
                h = F.max_pool2d(h, 2)
            h = s.enc[i](h)
            skips.append(h)
        skips.pop()
        for i in range(s.levels - 1, -1, -1):
            h = s.dec[i](upsample2x(s.up[i](h)) + skips.pop())
        r = s.tail(h)
        r = F.pixel_shuffle(r, u) if u > 1 else r
        y = m2 + r * torch.rsqrt(n2)
        return y, m2, n2, g

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None):
        """(input, state_in) -> (output, state_out); state None: the first frame of a stream."""
        if state is None:
            state = x.new_zeros((x.shape[0], STATE_CHANNELS) + tuple(x.shape[2:]))
        y, m2, n2, _ = self.step(x, state[:, :3], state[:, 3:4])
        return y, torch.cat([m2, n2], 1)
