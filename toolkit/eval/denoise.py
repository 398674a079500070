"""Run a torch model on whole images with the evaluation protocol (pad, run, crop, clamp)."""

from __future__ import annotations

import numpy as np


def denoise_uint8(model, noisy_u8: np.ndarray, device="cpu", blind_spot: int | None = None) -> np.ndarray:
    """uint8 HxWx3 -> uint8 HxWx3; reflect pad to the model's multiple, crop, clamp, round."""
    import torch

    from ..data.images import to_uint8
    from ..models.padding import run_padded

    x = torch.from_numpy(noisy_u8.astype(np.float32) / 255.0).permute(2, 0, 1)[None].to(device)
    kwargs = {}
    if blind_spot is not None:
        kwargs = {"blind_spot": blind_spot, "pad": False}
    with torch.inference_mode():
        y = run_padded(model, x, model.size_multiple, **kwargs)
    return to_uint8(y[0].permute(1, 2, 0).float().cpu().numpy())
