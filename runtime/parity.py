"""``run_parity``: an artifact against the PyTorch FP32 reference, as a CI gate.

On a paired set (noisy + ground truth) both models denoise every noisy image; we report
PSNR/SSIM against the ground truth for each, the drop (reference minus artifact, in dB),
and the PSNR between the two outputs. The gate bounds the mean drop and the worst image's
drop (a mean hides the one broken frame a user would see); the table lists the worst five. On video frames (no ground truth) only the PSNR
between the outputs is measured. The reference is a model run here (``reference=``: our
.safetensors through torch, or any artifact) or outputs computed earlier
(``reference_output=``: a folder of PNGs, which keeps torch off the device).

    from hushframe.runtime.parity import run_parity
    res = run_parity("student.onnx", pairs="polyu-dev/", reference="student.safetensors")
    print(res.to_markdown()); assert res.passed

Metrics are the numpy PSNR/SSIM of ``hushframe.core.metrics`` (scikit-image convention,
uint8, data range 255), images processed with the evaluation protocol (core/contract.py: reflect-pad, run, crop; ../shared/reference/anchors.md).
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import RuntimeUserError


class ParityError(RuntimeUserError):
    pass


@dataclass
class ParityThresholds:
    max_drop: float | None = 0.10          # dB, mean PSNR(ref, gt) - PSNR(artifact, gt)
    max_image_drop: float | None = 0.30    # dB, the same drop on the worst single image
    max_ssim_drop: float | None = None
    min_output_psnr: float | None = None   # dB between the two outputs (video mode default 40)


@dataclass
class ParityResult:
    artifact: str
    backend: str
    reference: str
    mode: str                               # "pairs" | "video"
    images: list = field(default_factory=list)   # per image dicts
    summary: dict = field(default_factory=dict)
    thresholds: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    passed: bool = True
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(_finite(self.to_dict()), indent=2) + "\n"

    def to_markdown(self) -> str:
        s = self.summary
        lines = [f"### Parity: `{Path(self.artifact).name}` ({self.backend}) vs `{Path(self.reference).name}`", ""]
        if self.mode == "pairs":
            lines += ["| what | PSNR (dB) | SSIM |", "| --- | --- | --- |",
                      f"| noisy input | {s['noisy_psnr']:.3f} | {s['noisy_ssim']:.4f} |",
                      f"| reference | {s['reference_psnr']:.3f} | {s['reference_ssim']:.4f} |",
                      f"| artifact | {s['artifact_psnr']:.3f} | {s['artifact_ssim']:.4f} |",
                      f"| drop (reference - artifact) | {s['psnr_drop']:.3f} | {s['ssim_drop']:.4f} |",
                      "", f"PSNR between the two outputs: {_fmt_db(s['output_psnr'])} "
                      f"(min {_fmt_db(s['output_psnr_min'])}), {s['count']} images. Per-image drop: worst "
                      f"{s['worst_image_drop']:.3f} dB, best {s['best_image_drop']:.3f} dB.",
                      "", "Worst images:", "", "| image | reference PSNR | artifact PSNR | drop (dB) | outputs PSNR |",
                      "| --- | --- | --- | --- | --- |"]
            for r in worst_images(self.images):
                lines.append(f"| {r['name']} | {r['reference_psnr']:.3f} | {r['artifact_psnr']:.3f} | "
                             f"{r['psnr_drop']:.3f} | {_fmt_db(r['output_psnr'])} |")
        else:
            lines += [f"PSNR between artifact and reference outputs over {s['count']} frames: mean "
                      f"{_fmt_db(s['output_psnr'])}, min {_fmt_db(s['output_psnr_min'])}."]
        th = ", ".join(f"{k} {v}" for k, v in self.thresholds.items() if v is not None) or "none"
        lines += ["", f"Thresholds: {th}. Result: **{'PASS' if self.passed else 'FAIL'}**"
                  + ("" if self.passed else " (" + "; ".join(self.failures) + ")")]
        return "\n".join(lines) + "\n"


def worst_images(rows: list, n: int = 5) -> list:
    """The ``n`` rows with the largest PSNR drop (pairs mode)."""
    return sorted((r for r in rows if "psnr_drop" in r), key=lambda r: r["psnr_drop"], reverse=True)[:n]


def _fmt_db(v):
    return "inf dB (identical)" if v is None or (isinstance(v, float) and math.isinf(v)) else f"{v:.2f} dB"


def _finite(o):
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if isinstance(o, dict):
        return {k: _finite(v) for k, v in o.items()}
    if isinstance(o, list):
        return [_finite(v) for v in o]
    return o


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "__", str(name))


class _RefOutputs:
    """Reference outputs as PNGs in a folder: ``<name>.png`` (pairs) or ``frame_NNNNNN.png`` (video)."""

    def __init__(self, folder):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ParityError(f"{self.folder}: reference output folder does not exist")

    def get(self, name: str) -> np.ndarray:
        from hushframe.core.images import read_uint8

        p = self.folder / f"{_safe_name(name)}.png"
        if not p.exists():
            raise ParityError(f"{p}: reference output missing (make them with --save-reference-output)")
        return read_uint8(p)


def _open(model, backend, device, tile):
    from .backends.base import Backend, open_backend

    if isinstance(model, Backend):
        return model, False
    return open_backend(model, backend=backend, device=device, max_hw=tile), True


def run_parity(artifact, *, pairs=None, clean=None, video=None, reference=None, reference_output=None,
               save_reference_output=None, backend: str = "auto", reference_backend: str = "auto",
               device: str = "auto", max_drop: float | None = 0.10, max_image_drop: float | None = 0.30,
               max_ssim_drop: float | None = None,
               min_output_psnr: float | None = None, every: int = 1, limit: int | None = None,
               max_frames: int = 30, tile=None, overlap: int = 64, json_path=None, markdown_path=None,
               progress=None) -> ParityResult:
    """Compare ``artifact`` with the reference on ``pairs`` (a folder/.mat of pairs) or ``video`` frames.

    Exactly one of ``reference`` (a model: .safetensors for the PyTorch FP32 reference, or any
    artifact) and ``reference_output`` (folder of PNGs computed earlier) is needed.
    ``save_reference_output`` writes the reference's outputs as PNGs for later torch-free runs.
    Writes ``json_path`` / ``markdown_path`` when given. Returns a :class:`ParityResult`;
    ``result.passed`` is False when a threshold fails.
    """
    from hushframe.core.atomic import write_text_atomic
    from hushframe.core.images import write_image
    from hushframe.core.metrics import psnr, ssim

    from .frames import denoise_image

    if (pairs is None) == (video is None):
        raise ParityError("give either a paired set (--pairs) or a video (--video)")
    if (reference is None) == (reference_output is None):
        raise ParityError("give either a reference model (--reference) or reference outputs (--reference-output)")
    if video is not None and min_output_psnr is None:
        min_output_psnr = 40.0
    every = max(1, int(every))
    t0 = time.perf_counter()

    # ---- the items to compare: (name, noisy uint8, clean uint8 or None)
    if pairs is not None:
        from hushframe.core.pairs import find_pairs

        plist = find_pairs(pairs, clean)[::every]
        if limit:
            plist = plist[:limit]
        items = ((p.name, *p.load()) for p in plist)
        count_hint = len(plist)
        mode = "pairs"
    else:
        from .sources import open_source

        src = open_source(video)

        def _frames():
            with src:
                for k, fr in enumerate(src):
                    if k // every >= max_frames:
                        break
                    if k % every == 0:
                        yield f"frame_{fr.index:06d}", fr.image, None

        items = _frames()
        count_hint = None
        mode = "video"

    be, own = _open(artifact, backend, device, tile)
    ref_be = ref_out = None
    own_ref = False
    try:
        if reference is not None:
            ref_be, own_ref = _open(reference, reference_backend, device, None)
        else:
            ref_out = _RefOutputs(reference_output)
        if save_reference_output is not None:
            Path(save_reference_output).mkdir(parents=True, exist_ok=True)
        rows = []
        for i, (name, noisy, gt) in enumerate(items):
            out = denoise_image(be, noisy, overlap=overlap)
            ref = denoise_image(ref_be, noisy, overlap=overlap) if ref_be is not None else ref_out.get(name)
            if ref.shape != out.shape:
                raise ParityError(f"{name}: reference output {ref.shape[:2]} differs from the input {out.shape[:2]}")
            if save_reference_output is not None:
                write_image(Path(save_reference_output) / f"{_safe_name(name)}.png", ref)
            row = {"name": name, "output_psnr": psnr(ref, out)}
            if gt is not None:
                row.update(noisy_psnr=psnr(gt, noisy), noisy_ssim=ssim(gt, noisy),
                           reference_psnr=psnr(gt, ref), reference_ssim=ssim(gt, ref),
                           artifact_psnr=psnr(gt, out), artifact_ssim=ssim(gt, out))
                row["psnr_drop"] = row["reference_psnr"] - row["artifact_psnr"]
            rows.append(row)
            if progress is not None:
                progress(i + 1, count_hint, row)
        if not rows:
            raise ParityError("nothing to compare (empty set or video)")
        binfo = be.info.describe()
        ref_desc = str(reference if reference is not None else reference_output)
        ref_desc = getattr(reference, "artifact", None) and str(reference.artifact.path) or ref_desc
        if ref_be is not None:      # say which engine ran on both sides (auto picks each artifact's own)
            ref_desc += f" ({ref_be.info.backend})"
    finally:
        if own:
            be.close()
        if own_ref and ref_be is not None:
            ref_be.close()

    finite = [r["output_psnr"] for r in rows if math.isfinite(r["output_psnr"])]
    summary = {"count": len(rows),
               "output_psnr": float(np.mean(finite)) if finite else float("inf"),
               "output_psnr_min": float(min(finite)) if finite else float("inf")}
    if mode == "pairs":
        for k in ("noisy_psnr", "noisy_ssim", "reference_psnr", "reference_ssim", "artifact_psnr", "artifact_ssim"):
            summary[k] = float(np.mean([r[k] for r in rows]))
        summary["psnr_drop"] = summary["reference_psnr"] - summary["artifact_psnr"]
        summary["ssim_drop"] = summary["reference_ssim"] - summary["artifact_ssim"]
        worst = worst_images(rows, 1)[0]
        summary["worst_image"] = worst["name"]
        summary["worst_image_drop"] = worst["psnr_drop"]
        summary["best_image_drop"] = min(r["psnr_drop"] for r in rows)
    pairs_mode = mode == "pairs"
    th = ParityThresholds(max_drop if pairs_mode else None, max_image_drop if pairs_mode else None,
                          max_ssim_drop if pairs_mode else None, min_output_psnr)
    failures = []
    if th.max_drop is not None and summary["psnr_drop"] > th.max_drop:
        failures.append(f"PSNR drop {summary['psnr_drop']:.3f} dB > {th.max_drop} dB")
    if th.max_image_drop is not None and summary["worst_image_drop"] > th.max_image_drop:
        failures.append(f"worst image {summary['worst_image']}: PSNR drop {summary['worst_image_drop']:.3f} dB "
                        f"> {th.max_image_drop} dB")
    if th.max_ssim_drop is not None and summary["ssim_drop"] > th.max_ssim_drop:
        failures.append(f"SSIM drop {summary['ssim_drop']:.4f} > {th.max_ssim_drop}")
    if th.min_output_psnr is not None and summary["output_psnr"] < th.min_output_psnr:
        failures.append(f"PSNR between outputs {summary['output_psnr']:.2f} dB < {th.min_output_psnr} dB")
    art_path = str(getattr(getattr(artifact, "artifact", None), "path", artifact))
    res = ParityResult(artifact=art_path, backend=binfo, reference=ref_desc, mode=mode, images=rows,
                       summary=summary, thresholds=asdict(th), failures=failures, passed=not failures,
                       seconds=round(time.perf_counter() - t0, 2))
    if json_path is not None:
        write_text_atomic(json_path, res.to_json())
    if markdown_path is not None:
        write_text_atomic(markdown_path, res.to_markdown())
    return res
