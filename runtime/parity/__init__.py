"""Parity: an artifact against a reference (the PyTorch FP32 model, or outputs saved earlier), as a CI gate.

Four steps, each callable and testable on its own (as Polygraphy separates its runners from its
Comparator), and ``run_parity``, the composition ``hushframe parity`` calls:

    from hushframe.runtime.options import RunOptions
    from hushframe.runtime.parity import (ParityThresholds, compare, gate, pair_items, report, run,
                                          run_parity, saved_outputs)

    items = pair_items("polyu-dev/", every=3)                       # or video_items("clip.mp4")
    cmp = compare(run("student.xml", items, RunOptions(backend="openvino")),   # 1. run (each model)
                  run("student.safetensors", items))                           # 2. compare: per-item metrics
    verdict = gate(cmp, ParityThresholds(max_drop=0.10))                       # 3. gate: pass, and why not
    print(report(cmp, verdict).to_markdown())                                  # 4. report (JSON / Markdown)

    res = run_parity("student.onnx", pairs="polyu-dev/", reference="student.safetensors")   # all four
    print(res.to_markdown()); assert res.passed

On a paired set (noisy + ground truth) both models denoise every noisy image; the comparison
has PSNR/SSIM against the ground truth for each, the drop (reference minus artifact, in dB),
and the PSNR between the two outputs; the gate bounds the mean drop and the worst image's drop.
On video frames (no ground truth) only the PSNR between the outputs is measured. The reference is
a model run here or outputs computed earlier (``saved_outputs``: a folder of PNGs, which keeps
torch off the device). Images go through the evaluation protocol (core/contract.py: reflect-pad,
run, crop; ../shared/reference/anchors.md); metrics are core/metrics.py's.
"""

from __future__ import annotations

import time

from ..options import RunOptions
from .compare import Comparison, compare, compare_images, summarize, worst_images
from .gate import ParityThresholds, Verdict, gate
from .items import Item, Items, pair_items, video_items
from .report import ParityResult, report, write_report
from .runners import Output, ParityError, RunResults, run, safe_name, save_outputs, saved_outputs

_safe_name = safe_name   # the name tests and benchmarks know (conftest writes reference PNGs with it)

_ITEM_KEYS = ("pairs", "clean", "video", "every", "limit", "max_frames")
_THRESHOLD_KEYS = ("max_drop", "max_image_drop", "max_ssim_drop", "min_output_psnr")


def run_parity(artifact, items: Items | None = None, *, reference=None, reference_output=None,
               save_reference_output=None, options: RunOptions | None = None,
               reference_options: RunOptions | None = None, thresholds: ParityThresholds | None = None,
               json_path=None, markdown_path=None, progress=None, lookahead: int = 0, **shorthands) -> ParityResult:
    """Compare ``artifact`` with the reference on ``items``: run both, compare, gate, report.

    Exactly one of ``reference`` (a model: .safetensors for the PyTorch FP32 reference, or any
    artifact, or an opened Backend) and ``reference_output`` (folder of PNGs computed earlier) is
    needed; ``save_reference_output`` writes the reference's outputs as PNGs for later torch-free
    runs. ``options`` run the artifact; the reference runs with ``reference_options`` (default: its
    own runtime on the same device, same overlap). Writes ``json_path`` / ``markdown_path`` when
    given; ``progress(i, count, row)`` after each item. ``result.passed`` is False when a threshold fails.
    ``lookahead``: a temporal model's frames of delay, the same for the artifact and the reference model
    (runtime/temporal.py); reference outputs saved earlier must have been made with it.

    Keyword shorthands: ``pairs=``, ``clean=``, ``every=``, ``limit=`` (-> :func:`pair_items`) or
    ``video=``, ``every=``, ``max_frames=`` (-> :func:`video_items`) for ``items``; ``backend=``,
    ``device=``, ``threads=``, ``tile=``, ``overlap=``, ``precision=`` for ``options``;
    ``reference_backend=`` for ``reference_options``; ``max_drop=``, ``max_image_drop=``,
    ``max_ssim_drop=``, ``min_output_psnr=`` for ``thresholds``.
    """
    items, options, reference_options, thresholds = _resolve(items, options, reference_options, thresholds,
                                                             shorthands)
    if (reference is None) == (reference_output is None):
        raise ParityError("give either a reference model (--reference) or reference outputs (--reference-output)")
    t0 = time.perf_counter()
    art = run(artifact, items, options, lookahead=lookahead)
    try:
        ref = (run(reference, items, reference_options, lookahead=lookahead) if reference is not None
               else saved_outputs(reference_output, items))
    except BaseException:
        art.close()
        raise
    if save_reference_output is not None:
        ref = save_outputs(ref, save_reference_output)
    cmp = compare(art, ref, progress=progress, count=items.count)
    res = report(cmp, gate(cmp, thresholds), seconds=time.perf_counter() - t0)
    write_report(res, json_path, markdown_path)
    return res


def _resolve(items, options, reference_options, thresholds, kw):
    """The keyword shorthands folded into the four values (TypeError for an unknown keyword)."""
    unknown = set(kw) - set(_ITEM_KEYS) - set(_THRESHOLD_KEYS) - {"reference_backend"} - {
        "backend", "device", "threads", "tile", "overlap", "precision"}
    if unknown:
        raise TypeError(f"run_parity() got unexpected keyword(s): {', '.join(sorted(unknown))}")
    ik = {k: kw.pop(k) for k in _ITEM_KEYS if k in kw}
    if items is None:
        pairs, video = ik.pop("pairs", None), ik.pop("video", None)
        if (pairs is None) == (video is None):
            raise ParityError("give either a paired set (--pairs) or a video (--video)")
        if pairs is not None:
            ik.pop("max_frames", None)
            items = pair_items(pairs, **ik)
        else:
            ik.pop("clean", None)
            ik.pop("limit", None)
            items = video_items(video, **ik)
    elif any(v is not None for v in ik.values()):
        raise TypeError(f"give items or {', '.join(_ITEM_KEYS)}, not both")
    tk = {k: kw.pop(k) for k in _THRESHOLD_KEYS if k in kw}
    if tk:
        thresholds = ParityThresholds(**{**(vars(thresholds) if thresholds else {}), **tk})
    ref_backend = kw.pop("reference_backend", None)
    options = RunOptions.of(options, **kw)
    if reference_options is None:
        reference_options = RunOptions(backend=ref_backend or "auto", device=options.device, overlap=options.overlap)
    elif ref_backend is not None:
        reference_options = reference_options.replace(backend=ref_backend)
    return items, options, reference_options, thresholds


__all__ = ["Comparison", "Item", "Items", "Output", "ParityError", "ParityResult", "ParityThresholds", "RunResults",
           "Verdict", "compare", "compare_images", "gate", "pair_items", "report", "run", "run_parity", "safe_name",
           "save_outputs", "saved_outputs", "summarize", "video_items", "worst_images", "write_report"]
