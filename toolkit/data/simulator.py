"""Camera-pipeline noise simulator: spatially correlated noise with ground truth.

Real sRGB noise is not i.i.d.: the sensor adds independent shot/read noise per photosite
of a Bayer mosaic, then demosaicking spreads each sample over its neighbours and the
colour pipeline mixes channels. Reproducing that path gives training and test data whose
noise is correlated like a camera's (Brooks et al., "Unprocessing images", CVPR 2019):

    clean sRGB -> inverse gamma -> optical low-pass filter -> inverse colour matrix
    -> inverse white balance -> RGGB mosaic -> Poisson-Gaussian noise (var = a*x + b^2)
    -> bilinear demosaic -> white balance -> colour matrix -> gamma -> noisy sRGB

The optical low-pass (anti-aliasing) filter matters for the ground truth: a Bayer sensor samples
red and blue at half the pixel rate, so detail near the pixel pitch (grass, gravel) comes back from
the demosaic as colour moire. Real cameras put a birefringent filter (or a lens that blurs as much)
in front of the sensor for that reason. Without one (``olpf=0``) the "clean" demosaiced frame of a
grey grass photo carries 23 RMS levels of false colour (19.4 dB from the photo itself): a
denoiser that removes colour noise removes it too and scores below its noisy input.

numpy only; deterministic for a given ``np.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A typical camera-RGB -> linear sRGB matrix (rows sum to 1 so grey stays grey).
_CCM = np.array([[1.65, -0.50, -0.15],
                 [-0.25, 1.55, -0.30],
                 [0.05, -0.55, 1.50]], dtype=np.float64)


@dataclass
class CameraParams:
    shot: float  # a: variance per unit signal (linear domain)
    read: float  # b: read-noise standard deviation
    wb_red: float
    wb_blue: float
    # Share of the light an optical low-pass filter sends to each horizontal and vertical neighbour
    # (a [olpf, 1 - 2 olpf, olpf] blur per axis, in linear light). 0.125 matches a 4-dot
    # birefringent filter of one pixel pitch (a 2x2 box: the same variance, centred). 0: none.
    olpf: float = 0.0

    @classmethod
    def random(cls, rng: np.random.Generator, level: str = "medium", olpf: float = 0.0) -> "CameraParams":
        lo, hi = {"low": (3e-5, 2e-4), "medium": (2e-4, 1.5e-3), "high": (1.5e-3, 1e-2)}[level]
        shot = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
        # Read noise grows with gain (log-linear, as in Brooks et al.), with some jitter.
        read = float(np.exp(0.85 * np.log(shot) + 0.6 + rng.normal(0, 0.2)))
        return cls(shot, read, float(rng.uniform(1.7, 2.4)), float(rng.uniform(1.4, 1.9)), olpf)


# The camera of `hushframe demo` (and of the shipped demo weights' data): high gain (low light),
# with an optical low-pass filter as a real Bayer camera has.
DEMO_OLPF = 0.125


def demo_camera_params() -> "CameraParams":
    return CameraParams(shot=4e-3, read=0.016, wb_red=2.0, wb_blue=1.6, olpf=DEMO_OLPF)


def srgb_to_linear(x):
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def mosaic(rgb: np.ndarray) -> np.ndarray:
    """HxWx3 -> HxW RGGB Bayer samples."""
    h, w, _ = rgb.shape
    m = np.empty((h, w), rgb.dtype)
    m[0::2, 0::2] = rgb[0::2, 0::2, 0]
    m[0::2, 1::2] = rgb[0::2, 1::2, 1]
    m[1::2, 0::2] = rgb[1::2, 0::2, 1]
    m[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return m


def optical_low_pass(rgb: np.ndarray, share: float) -> np.ndarray:
    """Separable [share, 1 - 2 share, share] blur of an HxWx3 image (reflected edges)."""
    if not share:
        return rgb
    p = np.pad(rgb, ((1, 1), (1, 1), (0, 0)), mode="reflect")
    h, w = rgb.shape[:2]
    c = 1.0 - 2.0 * share
    rows = share * (p[:, :w] + p[:, 2:w + 2]) + c * p[:, 1:w + 1]
    return share * (rows[:h] + rows[2:h + 2]) + c * rows[1:h + 1]


def _conv3(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    p = np.pad(a, 1, mode="reflect")
    h, w = a.shape
    out = np.zeros_like(a)
    for dy in range(3):
        for dx in range(3):
            if k[dy, dx]:
                out += k[dy, dx] * p[dy:dy + h, dx:dx + w]
    return out


def demosaic_bilinear(m: np.ndarray) -> np.ndarray:
    """Bilinear RGGB demosaic: each missing sample is a mean of its neighbours."""
    h, w = m.shape
    r_mask = np.zeros((h, w)); r_mask[0::2, 0::2] = 1
    b_mask = np.zeros((h, w)); b_mask[1::2, 1::2] = 1
    g_mask = 1 - r_mask - b_mask
    k_g = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float64) / 4
    k_rb = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float64) / 4
    r = _conv3(m * r_mask, k_rb)
    g = _conv3(m * g_mask, k_g)
    b = _conv3(m * b_mask, k_rb)
    return np.stack([r, g, b], axis=-1)


def camera_pipeline(clean_srgb: np.ndarray, params: CameraParams, rng: np.random.Generator,
                    noise: bool = True) -> np.ndarray:
    """Run a clean HxWx3 sRGB image in [0,1] through the camera path; returns noisy sRGB [0,1].

    With ``noise=False`` the same path runs without noise: that is the ground truth the
    denoiser should recover (mosaic + demosaic blur included, as in a real camera).
    """
    lin = optical_low_pass(srgb_to_linear(clean_srgb.astype(np.float64)), params.olpf)
    cam = lin @ np.linalg.inv(_CCM).T
    wb = np.array([params.wb_red, 1.0, params.wb_blue])
    raw = np.clip(cam / wb, 0.0, 1.0)
    bayer = mosaic(raw)
    if noise:
        lam = bayer / params.shot
        shot = rng.poisson(np.maximum(lam, 0)) * params.shot
        bayer = shot + rng.normal(0.0, params.read, bayer.shape)
    rgb = demosaic_bilinear(bayer)
    rgb = (rgb * wb) @ _CCM.T
    return linear_to_srgb(rgb).astype(np.float32)


def simulate_pair(clean_srgb: np.ndarray, rng: np.random.Generator, level: str = "medium",
                  params: CameraParams | None = None, olpf: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, ground truth) float32 HxWx3 in [0,1] through the same camera (``params``, or a
    random camera of ``level`` with an optical low-pass filter of ``olpf``)."""
    params = params or CameraParams.random(rng, level, olpf)
    gt = camera_pipeline(clean_srgb, params, rng, noise=False)
    noisy = camera_pipeline(clean_srgb, params, rng, noise=True)
    return noisy, gt


def neighbour_correlation(residual: np.ndarray) -> float:
    """Mean correlation of a noise residual with its right-hand neighbour (per channel)."""
    r = residual if residual.ndim == 3 else residual[..., None]
    cs = []
    for c in range(r.shape[-1]):
        a, b = r[:, :-1, c].ravel(), r[:, 1:, c].ravel()
        a, b = a - a.mean(), b - b.mean()
        cs.append(float((a * b).mean() / (np.sqrt((a * a).mean() * (b * b).mean()) + 1e-12)))
    return float(np.mean(cs))
