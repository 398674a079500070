"""PSNR and SSIM on uint8 RGB, data_range 255: the scikit-image convention, in numpy only.

Matches ``skimage.metrics.peak_signal_noise_ratio(gt, out, data_range=255)`` and
``structural_similarity(gt, out, channel_axis=-1, data_range=255)`` (7x7 uniform window,
sample covariance, reflect borders, mean over the valid interior). Kept free of scipy
and skimage so the torch-free runtime can gate releases with the same numbers; a test
checks both against scikit-image.
"""

from __future__ import annotations

import numpy as np


def psnr(gt: np.ndarray, out: np.ndarray, data_range: float = 255.0) -> float:
    gt = gt.astype(np.float64)
    out = out.astype(np.float64)
    mse = np.mean((gt - out) ** 2)
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(data_range**2 / mse))


def _uniform_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Box mean over size x size with scipy's 'reflect' (half-sample symmetric) borders."""
    r = size // 2
    p = np.pad(a, ((r, size - 1 - r), (r, size - 1 - r)), mode="symmetric")
    c = np.cumsum(np.cumsum(p, axis=0), axis=1)
    c = np.pad(c, ((1, 0), (1, 0)))
    h, w = a.shape
    s = c[size:size + h, size:size + w] - c[:h, size:size + w] - c[size:size + h, :w] + c[:h, :w]
    return s / (size * size)


def _ssim_channel(x: np.ndarray, y: np.ndarray, data_range: float, win: int = 7) -> float:
    k1, k2 = 0.01, 0.03
    npix = win * win
    cov_norm = npix / (npix - 1)
    ux, uy = _uniform_filter(x, win), _uniform_filter(y, win)
    uxx, uyy, uxy = _uniform_filter(x * x, win), _uniform_filter(y * y, win), _uniform_filter(x * y, win)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def ssim(gt: np.ndarray, out: np.ndarray, data_range: float = 255.0) -> float:
    gt = gt.astype(np.float64)
    out = out.astype(np.float64)
    if gt.ndim == 2:
        return _ssim_channel(gt, out, data_range)
    return float(np.mean([_ssim_channel(gt[..., c], out[..., c], data_range) for c in range(gt.shape[-1])]))
