"""A temporal student for video: accumulate along motion, then refine (not from the papers).

A frame's neighbours show the same scene under independent noise. This student keeps, per
pixel, a gated running mean of the noisy frames it has seen (aligned to the current frame by
the caller, core/temporal.py) and how many frames that mean holds; a small network decides
how much of that history still belongs to the pixel, and the per-frame student refines the
mean into the output:

    r      = mean4x4((x - m)^2) / var(b)        how far the new frame sits from the mean, in units
                                                of the camera's noise at the block's brightness b
                                                (``noise_model``, below)
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
* ``noise_model``: the camera's noise variance against a 4x4 block's brightness b (0-1, as encoded).
  "encoded" (what training writes): shot and read noise in linear light L = b^gamma, seen through the
  encoding's slope, var(b) = (shot * L + read) * (dL/db)^-2 = (shot * b^gamma + read) * b^(2 - 2 gamma) /
  gamma^2 (b clamped at 1/64), calibrated per camera from its own video before training and then fixed
  (training/noise_calibration.py): a measurement of the camera, not a decision; the detector's offset and
  the gate network learn the decision. gamma = 1 is a linear-light camera. "linear": var(b) = shot * b +
  read with shot and read learned (students trained before the calibration; they load as they were).
  A camera's output is gamma-encoded, so its noise FALLS with brightness; the linear model rises, and the
  students that learned it were 2-54x under the camera's noise in the shadows (BENCHMARKS.md,
  "video-noise-model"): every still frame looked like motion there, and still scenes kept 84-95% of their
  history per frame where all of it belongs;
* the count is clamped at 0 as it comes in: the bicubic alignment (core/temporal.py) rings a
  little where history ends;
* export traces ``FoldedTemporalStudent``: the same function with its pixel unshuffles folded
  into strided convs (ONNX has no unshuffle; engines ran its Reshape/Transpose form slower than
  all the convolutions together);
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
NOISE_MODELS = ("linear", "encoded")
B_MIN = 1.0 / 64.0   # the encoded model's floor on brightness: its slope has no bound at black


def encoded_variance(b, shot, read, gamma):
    """var(b) = (shot * b^gamma + read) * b^(2 - 2 gamma) / gamma^2 for b >= B_MIN (numpy or torch; the
    calibration fits this same function)."""
    return (shot * b ** gamma + read) * b ** (2.0 - 2.0 * gamma) / (gamma * gamma)


class TemporalStudent(nn.Module):
    temporal = True

    def __init__(self, width: int = 16, levels: int = 2, unshuffle: int = 2, convs: int = 1, gate_width: int = 16,
                 n_max: float = 32.0, in_ch: int = 3, noise_model: str = "linear"):
        super().__init__()
        if in_ch != 3:
            raise ValueError("the temporal student takes RGB frames (in_ch 3)")
        if noise_model not in NOISE_MODELS:
            raise ValueError(f"noise_model must be one of {', '.join(NOISE_MODELS)}, not {noise_model!r}")
        self.config = dict(width=width, levels=levels, unshuffle=unshuffle, convs=convs, gate_width=gate_width,
                           n_max=n_max)
        if noise_model != "linear":    # a student trained before the encoded model keeps its config as it was
            self.config["noise_model"] = noise_model
        self.noise_model = noise_model
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
        if noise_model == "linear":
            # shot * brightness + read, log-parametrised, learned from a moderate camera's (37 dB at mid grey)
            self.log_shot = nn.Parameter(torch.tensor(math.log(2e-4)))
            self.log_read = nn.Parameter(torch.tensor(math.log(2e-5)))
        else:
            # fixed buffers, set by set_noise from the camera's calibration (saved with the weights); until
            # then a moderate sRGB camera's
            self.register_buffer("noise_shot", torch.tensor(3e-4))
            self.register_buffer("noise_read", torch.tensor(2e-6))
            self.register_buffer("noise_gamma", torch.tensor(2.2))
        # detector: sigmoid(3 - 1.5 log r): r = 1 (agrees) -> 0.95, r = 5 -> 0.64, r = 20 -> 0.18
        self.detector = nn.Parameter(torch.tensor([3.0, 1.5]))

    @property
    def state_channels(self) -> int:
        return STATE_CHANNELS

    def init_from_student(self, student: CPUStudent) -> None:
        """The per-frame path starts as a trained per-frame student (same width/levels/convs)."""
        self.spatial.load_state_dict(student.state_dict())

    def set_noise(self, shot: float, read: float, gamma: float) -> None:
        """The camera's calibrated encoded noise model (noise_model "encoded" only)."""
        if self.noise_model != "encoded":
            raise ValueError("set_noise is for the encoded noise model")
        for name, v in (("noise_shot", shot), ("noise_read", read), ("noise_gamma", gamma)):
            getattr(self, name).fill_(float(v))

    def noise_variance(self, b: torch.Tensor) -> torch.Tensor:
        """The camera's noise variance (0-1 scale) at block brightness ``b``."""
        if self.noise_model == "linear":
            return torch.exp(self.log_shot) * b + torch.exp(self.log_read)
        return encoded_variance(torch.clamp(b, min=B_MIN), self.noise_shot, self.noise_read, self.noise_gamma)

    def gate_values(self, x: torch.Tensor, m: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        q = GATE_UNSHUFFLE
        d = x - m
        var = self.noise_variance(self._pooled_mean(x))
        log_r = torch.log(self._pooled_mean(d * d) / var + 1e-3)
        conf = n / (n + 1.0)
        logits = self.detector[0] - self.detector[1] * log_r + self._gate_net(torch.cat([d, m, conf], 1), log_r)
        return torch.sigmoid(F.pixel_shuffle(logits, q))

    def _pooled_mean(self, t: torch.Tensor) -> torch.Tensor:
        """The mean over channels and GATE_UNSHUFFLE^2 blocks: N x 1 x H/4 x W/4."""
        return F.avg_pool2d(t.mean(1, keepdim=True), GATE_UNSHUFFLE)

    def _gate_net(self, dmc: torch.Tensor, log_r: torch.Tensor) -> torch.Tensor:
        """The learned gate term at 1/4 resolution from (x - m, m, n/(n+1)) and log r."""
        return self.gate(torch.cat([F.pixel_unshuffle(dmc, GATE_UNSHUFFLE), log_r], 1))

    def _refiner_head(self, m2: torch.Tensor, extra_in: torch.Tensor) -> torch.Tensor:
        """The refiner's first features (1/u resolution) from the mean and (x - m', 1 - 1/sqrt(n'))."""
        s = self.spatial
        u = s.unshuffle
        if u > 1:
            m2, extra_in = F.pixel_unshuffle(m2, u), F.pixel_unshuffle(extra_in, u)
        return F.relu(s.head(m2) + self.extra(extra_in))

    def export_form(self) -> "FoldedTemporalStudent":
        """The same function with its pixel (un)shuffles folded into strided convs, for export."""
        return FoldedTemporalStudent(self).eval()

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
        h = self._refiner_head(m2, torch.cat([x - m2, level], 1))
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


def fold_unshuffle(weight: torch.Tensor, u: int) -> torch.Tensor:
    """A k x k conv over pixel_unshuffle(x, u) is a ku x ku conv of stride u over x (padding p -> pu).

    Unshuffled channel c*u*u + a*u + b holds x[c, u*i + a, u*j + b], so the folded kernel's tap
    (u*di + a, u*dj + b) over input channel c is the original's tap (di, dj) over that channel.
    """
    o, cu, k, _ = weight.shape
    c = cu // (u * u)
    return weight.reshape(o, c, u, u, k, k).permute(0, 1, 4, 2, 5, 3).reshape(o, c, k * u, k * u)


class FoldedTemporalStudent(TemporalStudent):
    """What `hushframe export` traces for a TemporalStudent: the same function, laid out for engines.

    ONNX has no pixel_unshuffle: torch writes it as Reshape + 6-D Transpose, which OpenVINO runs as
    full-frame memory shuffles, and its INT8 graph spent more time in them (Transpose, Reorder) than
    in every convolution together. Folding each unshuffle into the conv that reads it
    (``fold_unshuffle``) and the block means into fixed-weight strided convs leaves one DepthToSpace
    per pixel_shuffle: the moderate student's 1080p int8 IR 96 -> 73 ms per frame (OpenVINO, 2 threads,
    Xeon Sapphire Rapids, one run), and its int8 output closer to fp32 on the calibration clip
    (47.6 -> 50.7 dB; low light 51.2 -> 52.7). Same weights, same arithmetic up to
    float summation order (export checks it against the unfolded model). Not for training: the
    folded convs are copies, not views, of the trained ones.
    """

    def __init__(self, src: TemporalStudent):
        super().__init__(**src.config)
        self.load_state_dict(src.state_dict())
        s, u, q = self.spatial, self.spatial.unshuffle, GATE_UNSHUFFLE
        head = torch.cat([fold_unshuffle(s.head.weight.detach(), u), fold_unshuffle(self.extra.weight.detach(), u)], 1)
        # the refiner's first conv over cat(m', x - m', level): head and extra as one conv
        self.head_folded = nn.Conv2d(head.shape[1], head.shape[0], 3 * u, stride=u, padding=u)
        g0 = self.gate[0]
        cin = g0.in_channels - 1                       # the unshuffled (x - m, m, conf); the last is log r
        self.gate0_folded = nn.Conv2d(cin // (q * q), g0.out_channels, 3 * q, stride=q, padding=q)
        self.gate0_log_r = nn.Conv2d(1, g0.out_channels, 3, padding=1, bias=False)
        with torch.no_grad():
            self.head_folded.weight.copy_(head)
            self.head_folded.bias.copy_(s.head.bias)
            self.gate0_folded.weight.copy_(fold_unshuffle(g0.weight[:, :cin], q))
            self.gate0_folded.bias.copy_(g0.bias)
            self.gate0_log_r.weight.copy_(g0.weight[:, cin:])
        self.register_buffer("block_mean", torch.full((1, 3, q, q), 1.0 / (3 * q * q)))

    def _pooled_mean(self, t):
        return F.conv2d(t, self.block_mean, stride=GATE_UNSHUFFLE)

    def _gate_net(self, dmc, log_r):
        h = F.relu(self.gate0_folded(dmc) + self.gate0_log_r(log_r))
        return self.gate[4](F.relu(self.gate[2](h)))

    def _refiner_head(self, m2, extra_in):
        return F.relu(self.head_folded(torch.cat([m2, extra_in], 1)))
