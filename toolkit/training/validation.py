"""Validation during training: PSNR/SSIM of the model being trained on the first pairs of a set."""

from __future__ import annotations


def make_validator(pairs, kind: str, blind_spot: int | None, max_images: int, device):
    """PSNR/SSIM on the first ``max_images`` pairs (student, or teacher at k_b); None without pairs."""
    if not pairs:
        return None
    import numpy as np

    from hushframe.core.metrics import psnr, ssim

    from ..eval.denoise import denoise_uint8

    loaded = [p.load() for p in pairs[:max_images]]

    def validate(model):
        was = model.training
        model.eval()
        ps, ss = [], []
        for noisy, clean in loaded:
            out = denoise_uint8(model, noisy, device=device, blind_spot=blind_spot if kind == "teacher" else None)
            ps.append(psnr(clean, out)); ss.append(ssim(clean, out))
        model.train(was)
        return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}

    return validate
