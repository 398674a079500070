"""Evaluate a student, or the teacher at k_b or over a k_b sweep, on a paired set."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hushframe.core.metrics import psnr, ssim


@dataclass
class EvalResult:
    label: str
    psnr: float
    ssim: float
    per_image: list = field(default_factory=list)
    border: float | None = None  # mean per-image border ratio (faithful.border_ratio); None if images are too small

    def as_dict(self):
        return {"label": self.label, "psnr": self.psnr, "ssim": self.ssim, "border_ratio": self.border,
                "per_image": self.per_image}


def evaluate(model, pairs, device="cpu", blind_spot=None, label="model", progress=None, keep=0):
    """Mean PSNR/SSIM over the pairs; ``keep`` first outputs are returned for pictures."""
    from .denoise import denoise_uint8
    from .faithful import MARGIN, border_ratio

    rows, kept = [], []
    for i, pair in enumerate(pairs):
        noisy, clean = pair.load()
        out = denoise_uint8(model, noisy, device=device, blind_spot=blind_spot)
        rows.append({"name": pair.name, "psnr": psnr(clean, out), "ssim": ssim(clean, out)})
        if min(clean.shape[:2]) > 2 * MARGIN:
            rows[-1]["border_ratio"] = border_ratio(out, clean)
        if i < keep:
            kept.append((pair.name, noisy, out, clean))
        if progress:
            progress()
    borders = [r["border_ratio"] for r in rows if "border_ratio" in r]
    res = EvalResult(label, float(np.mean([r["psnr"] for r in rows])), float(np.mean([r["ssim"] for r in rows])), rows,
                     float(np.mean(borders)) if borders else None)
    return res, kept


def evaluate_noisy(pairs) -> EvalResult:
    rows = []
    for pair in pairs:
        noisy, clean = pair.load()
        rows.append({"name": pair.name, "psnr": psnr(clean, noisy), "ssim": ssim(clean, noisy)})
    return EvalResult("noisy input", float(np.mean([r["psnr"] for r in rows])), float(np.mean([r["ssim"] for r in rows])), rows)


def save_strip(path, examples, label="denoised"):
    """PNG: one row per image, noisy | denoised | ground truth, with a caption band."""
    from PIL import Image, ImageDraw

    from hushframe.core.images import write_image

    rows = []
    for name, noisy, out, clean in examples:
        h = noisy.shape[0]
        band = np.full((18, noisy.shape[1] * 3 + 8, 3), 255, np.uint8)
        img = Image.fromarray(band)
        d = ImageDraw.Draw(img)
        w = noisy.shape[1]
        d.text((4, 3), f"{name}: noisy {psnr(clean, noisy):.2f} dB", fill=(0, 0, 0))
        d.text((w + 8, 3), f"{label} {psnr(clean, out):.2f} dB", fill=(0, 0, 0))
        d.text((2 * w + 12, 3), "ground truth", fill=(0, 0, 0))
        sep = np.full((h, 4, 3), 255, np.uint8)
        rows.append(np.concatenate([np.asarray(img)[:, : 3 * w + 8], np.concatenate([noisy, sep, out, sep, clean], 1)], 0))
    wmax = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 4), (0, wmax - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    write_image(path, np.concatenate(rows, 0))


def save_sweep_plot(path, ks, psnrs, ssims, title="Teacher k_b sweep"):
    """PSNR and SSIM against the inference blind spot k_b (as in the paper's Fig. 7)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hushframe.core.atomic import atomic_path

    fig, ax1 = plt.subplots(figsize=(5, 3.2), dpi=120)
    ax1.plot(ks, psnrs, "o-", color="tab:blue", label="PSNR")
    ax1.set_xlabel("inference blind spot k_b")
    ax1.set_ylabel("PSNR (dB)", color="tab:blue")
    ax2 = ax1.twinx()
    ax2.plot(ks, ssims, "s--", color="tab:red", label="SSIM")
    ax2.set_ylabel("SSIM", color="tab:red")
    ax1.set_xticks(ks)
    ax1.grid(alpha=0.3)
    ax1.set_title(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
