"""Faithfulness measures: borders no worse than the middle, clean content left alone.

* border ratio: mean absolute error in the outer ``ring``-px frame of an image over the
  mean absolute error of its interior (a ``margin``-px margin dropped); a faithful
  denoiser is near 1. Averaged over images as a mean of per-image ratios.
* do-no-harm: PSNR of model(clean) against clean on built-in synthetic frames
  (``data.synthetic.probe_frames``: colour bars, saturated patches, ramp, lines).

The definitions match the reviewers' independent probe: the model's plain forward
(a teacher at its stored k_b), float input in [0, 1], output clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np

RING = 4
MARGIN = 16


def border_ratio(out: np.ndarray, clean: np.ndarray, ring: int = RING, margin: int = MARGIN) -> float:
    """Ring / interior mean absolute error of one HxWx3 output (any dtype, same scale)."""
    e = np.abs(out.astype(np.float64) - clean.astype(np.float64)).mean(axis=2)
    frame = np.ones(e.shape, bool)
    frame[ring:-ring, ring:-ring] = False
    interior = e[margin:-margin, margin:-margin].mean()
    return float(e[frame].mean() / max(interior, 1e-12))


def run_float(model, img: np.ndarray, device="cpu", blind_spot: int | None = None) -> np.ndarray:
    """Forward on a float HxWx3 image in [0, 1] -> clipped float output (teacher: at ``blind_spot``)."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float().to(device)
    with torch.inference_mode():
        y = model(x) if blind_spot is None else model(x, blind_spot=blind_spot)
    return y[0].float().cpu().numpy().transpose(1, 2, 0).clip(0.0, 1.0)


def harm_psnr(model, device="cpu", frames: dict | None = None, blind_spot: int | None = None) -> dict[str, float]:
    """PSNR(model(clean), clean) per built-in synthetic frame (higher = less harm).

    The frames are 256 x 320, a multiple of every model's size multiple, so the plain
    forward runs as is (the probe's protocol)."""
    from ..data.synthetic import probe_frames

    out = {}
    for name, img in (frames or probe_frames()).items():
        mse = float(((run_float(model, img, device, blind_spot) - img) ** 2).mean())
        out[name] = float(-10 * np.log10(max(mse, 1e-12)))
    return out
