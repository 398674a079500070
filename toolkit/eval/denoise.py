"""Run a torch model on whole images with the evaluation protocol (pad, run, crop, clamp)."""

from __future__ import annotations

import numpy as np


def denoise_uint8(model, noisy_u8: np.ndarray, device="cpu", blind_spot: int | None = None) -> np.ndarray:
    """uint8 HxWx3 -> uint8 HxWx3; clamp, round. Students: reflect pad to the model's multiple,
    run, crop. Teachers pad themselves (per rotation, leak-free; a reflect pad here would put
    mirrored copies of edge pixels inside their own blind spots)."""
    import torch

    from hushframe.core.images import to_uint8
    from ..models.padding import run_padded

    x = torch.from_numpy(noisy_u8.astype(np.float32) / 255.0).permute(2, 0, 1)[None].to(device)
    with torch.inference_mode():
        if blind_spot is not None:
            y = model(x, blind_spot=blind_spot)
        else:
            y = run_padded(model, x, model.size_multiple)
    return to_uint8(y[0].permute(1, 2, 0).float().cpu().numpy())
