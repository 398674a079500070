"""Error-compensating weight rounding for INT8 convs (GPTQ: Frantar et al., ICLR 2023, after OBQ).

Rounding every weight to its nearest code is optimal weight by weight, not for the conv's
output: the errors of one output channel's weights add up on correlated inputs. GPTQ rounds
the input columns one at a time and moves each rounding error onto the columns not yet
rounded, weighted by the inverse Hessian of the layer's reconstruction loss

    H = sum over calibration patches x of x x^T    (x: one im2col patch, Cin*kh*kw values)
    min_Q || W X - Q X ||^2   with Q on the per-channel grid (scale fixed by the channel's absmax)

so the conv's output on images like the calibration frames moves less. The scale grid is the
same as round-to-nearest (symmetric per output channel, 7 or 8 bits), so nothing downstream
changes: the codes are still int8 initializers behind a DequantizeLinear. Closed form, no
training: a few seconds for student C on a CPU.
"""

from __future__ import annotations

import zlib

import numpy as np

from .graph import attr, initializers


def supported(node) -> bool:
    """Plain convs only (group 1, dilation 1, explicit pads): what the im2col below reproduces."""
    return (attr(node, "group", 1) == 1 and all(d == 1 for d in attr(node, "dilations", [1, 1]))
            and attr(node, "auto_pad", b"NOTSET") in (b"NOTSET", "NOTSET"))


def _patches(x: np.ndarray, kh: int, kw: int, stride, pads, n: int, rng) -> np.ndarray:
    """``n`` random im2col patches of one CHW activation, rows ordered like ``W.reshape(O, -1)``."""
    c, h, w = x.shape
    t, l, b, r = pads[0], pads[1], pads[2], pads[3]
    xp = np.pad(x, ((0, 0), (t, b), (l, r)))
    oh = (h + t + b - kh) // stride[0] + 1
    ow = (w + l + r - kw) // stride[1] + 1
    ys = rng.integers(0, oh, n) * stride[0]
    xs = rng.integers(0, ow, n) * stride[1]
    dy, dx = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    # (n, C, kh, kw): C outermost, then kernel rows and columns, as in the weight tensor.
    p = xp[:, ys[:, None, None] + dy[None], xs[:, None, None] + dx[None]]
    return p.transpose(1, 0, 2, 3).reshape(n, -1)


class ConvInputHessians:
    """Accumulates, per conv node, H = X X^T / n over random output positions of the calibration crops
    (float inputs); fed by ``ranges.calibration_pass``, so it shares the pass that measures ranges."""

    def __init__(self, model, convs: list, positions_per_crop: int = 512, seed: int = 0):
        inits = initializers(model)
        self.convs = [(c.name, c.input[0], tuple(inits[c.input[1]].dims[2:]), attr(c, "strides", [1, 1]),
                       attr(c, "pads", [0, 0, 0, 0])) for c in convs]
        self.tensors = sorted({c[1] for c in self.convs})
        self.positions_per_crop = positions_per_crop
        # One random stream per conv, keyed by its name: a conv's Hessian does not depend on which
        # other convs are measured in the same pass.
        self._rngs = {c.name: np.random.default_rng([seed, zlib.crc32(c.name.encode())]) for c in convs}
        self._acc: dict[str, np.ndarray] = {}
        self._count = 0

    def add(self, vals: dict) -> None:
        for name, tensor, (kh, kw), strides, pads in self.convs:
            p = _patches(vals[tensor][0], kh, kw, strides, pads, self.positions_per_crop, self._rngs[name]).astype(np.float32)
            h = (p.T @ p).astype(np.float64)  # float32 products (half the time), summed over crops in float64
            self._acc[name] = h if name not in self._acc else self._acc[name] + h
        self._count += self.positions_per_crop

    def result(self) -> dict[str, np.ndarray]:
        return {k: v / max(self._count, 1) for k, v in self._acc.items()}


def gptq_codes(w: np.ndarray, hessian: np.ndarray, bits: int = 8, damp: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel codes of ``w`` (O, C, kh, kw) and their scales, GPTQ-rounded.

    Scales are the round-to-nearest ones (absmax / (2^(bits-1) - 1)); columns are visited in order
    of decreasing Hessian diagonal (GPTQ's "act order": the inputs that matter most are rounded
    first, while the most columns remain to absorb their error).
    """
    top = float(2 ** (bits - 1) - 1)
    o = w.shape[0]
    W = w.reshape(o, -1).astype(np.float64).copy()
    amax = np.abs(W).max(axis=1)
    scale = np.where(amax > 0, amax / top, 1.0)
    H = hessian.astype(np.float64).copy()
    dead = np.diag(H) <= 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0
    order = np.argsort(-np.diag(H))
    W, H = W[:, order], H[np.ix_(order, order)]
    H[np.diag_indices_from(H)] += damp * float(np.mean(np.diag(H)))
    # Upper Cholesky factor of H^-1: row i holds how column i's error spreads to later columns.
    U = np.linalg.cholesky(np.linalg.inv(H)).T
    Q = np.empty_like(W)
    for i in range(W.shape[1]):
        q = np.clip(np.rint(W[:, i] / scale), -top, top)
        Q[:, i] = q
        err = (W[:, i] - q * scale) / U[i, i]
        W[:, i + 1:] -= np.outer(err, U[i, i + 1:])
    codes = np.empty_like(Q)
    codes[:, order] = Q
    return codes.reshape(w.shape).astype(np.int8), scale.astype(np.float32)
