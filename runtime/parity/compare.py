"""Step 2 of a parity check: two runs over the same items -> per-item metrics and their summary.

    cmp = compare(run(artifact, items), run(reference, items))
    cmp.rows[0]   # {"name", "output_psnr", and with ground truth: noisy/reference/artifact PSNR and SSIM, psnr_drop}
    cmp.summary   # count, output_psnr (mean, min); with ground truth: means, drops, worst and best image

Metrics are core/metrics.py's PSNR/SSIM (scikit-image's convention, uint8, data range 255).
The two runs are read side by side, one item at a time; an item whose names or sizes differ
between them is an error (the runs were not over the same items).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .runners import ParityError, RunResults

GT_KEYS = ("noisy_psnr", "noisy_ssim", "reference_psnr", "reference_ssim", "artifact_psnr", "artifact_ssim")


@dataclass
class Comparison:
    artifact: RunResults
    reference: RunResults
    mode: str                                   # "pairs" (ground truth) | "video"
    rows: list = field(default_factory=list)     # per item dicts
    summary: dict = field(default_factory=dict)


def compare_images(out: np.ndarray, ref: np.ndarray, noisy: np.ndarray | None = None,
                   clean: np.ndarray | None = None, name: str = "") -> dict:
    """The metrics of one item: outputs against each other, and against the ground truth if given."""
    from hushframe.core.metrics import psnr, ssim

    if ref.shape != out.shape:
        raise ParityError(f"{name}: reference output {ref.shape[:2]} differs from the input {out.shape[:2]}")
    row = {"name": name, "output_psnr": psnr(ref, out)}
    if clean is not None:
        row.update(noisy_psnr=psnr(clean, noisy), noisy_ssim=ssim(clean, noisy),
                   reference_psnr=psnr(clean, ref), reference_ssim=ssim(clean, ref),
                   artifact_psnr=psnr(clean, out), artifact_ssim=ssim(clean, out))
        row["psnr_drop"] = row["reference_psnr"] - row["artifact_psnr"]
    return row


def compare(artifact: RunResults, reference: RunResults, progress=None, count: int | None = None) -> Comparison:
    """Read both runs to their end; ``progress(i, count, row)`` after each item."""
    rows = []
    sentinel = object()
    a_it, r_it = iter(artifact), iter(reference)
    try:
        for i, out in enumerate(a_it):
            ref = next(r_it, sentinel)
            if ref is sentinel or ref.item.name != out.item.name:
                got = "nothing" if ref is sentinel else ref.item.name
                raise ParityError(f"{out.item.name}: the reference run has {got} there (the runs differ in items)")
            rows.append(compare_images(out.image, ref.image, out.item.noisy, out.item.clean, out.item.name))
            if progress is not None:
                progress(i + 1, count, rows[-1])
    finally:
        artifact.close()
        reference.close()
    if not rows:
        raise ParityError("nothing to compare (empty set or video)")
    return Comparison(artifact, reference, artifact.mode, rows, summarize(rows, artifact.mode))


def summarize(rows: list, mode: str = "pairs") -> dict:
    """Means over the items, the worst and best per-item drop (ground truth), the outputs' PSNR."""
    finite = [r["output_psnr"] for r in rows if math.isfinite(r["output_psnr"])]
    summary = {"count": len(rows),
               "output_psnr": float(np.mean(finite)) if finite else float("inf"),
               "output_psnr_min": float(min(finite)) if finite else float("inf")}
    if mode == "pairs":
        for k in GT_KEYS:
            summary[k] = float(np.mean([r[k] for r in rows]))
        summary["psnr_drop"] = summary["reference_psnr"] - summary["artifact_psnr"]
        summary["ssim_drop"] = summary["reference_ssim"] - summary["artifact_ssim"]
        worst = worst_images(rows, 1)[0]
        summary["worst_image"] = worst["name"]
        summary["worst_image_drop"] = worst["psnr_drop"]
        summary["best_image_drop"] = min(r["psnr_drop"] for r in rows)
    return summary


def worst_images(rows: list, n: int = 5) -> list:
    """The ``n`` rows with the largest PSNR drop (pairs mode)."""
    return sorted((r for r in rows if "psnr_drop" in r), key=lambda r: r["psnr_drop"], reverse=True)[:n]
