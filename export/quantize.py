"""ONNX fp32 -> INT8 (explicit Q/DQ, TensorRT form) or FP16, calibrated on the user's noisy frames.

INT8 recipe (why: see export/README.md, "INT8 accuracy"):
1. ``split_input_convs``: the decoder conv that sees Concat(features, image) is split into a
   feature conv and a 3-channel image conv, so the image never passes through a coarse shared
   int8 scale. ``image_convs``: on CPU targets (``auto``) the convs reading the image (the input,
   or a pixel-unshuffle of it) run in int8 with their input read exactly (unsigned codes, scale
   1/255: 8-bit frames are k/255), except a split-off image conv beside a dithered feature conv:
   that one stays float because it carries the dither's compensation as one more input channel
   for free (in int8 the compensation became a float conv and an Add of its own, and the IR ran
   slower than with both image convs float). For ``gpu`` they stay float (a signed int8 scale over
   the image's range costs ~3 grey levels per step). ``float`` / ``int8`` force either way.
2. ``equalize``: per-channel activation equalization (exact in float), so one per-tensor
   symmetric scale fits every channel.
3. Ranges: per activation tensor, MSE-optimal over the calibration crops (``mse``; 128 crops by
   default, enough to hold saturated colours), zero point 0; on CPU targets tensors non-negative by
   construction (after ReLU) are unsigned (twice the resolution); weights symmetric per channel.
4. ``keep_float="auto"``: convs whose int8 output error (one at a time, on calibration crops)
   exceeds a budget stay float, within 25% of the MACs (student C: only the last conv); a conv
   carrying under 2% of the predicted error never does (it would only cost time).
5. ``target``: the hardware the artifact must be exact on. ``avx2`` (the default, also what
   ``auto`` picks) stores 7-bit weight codes so that CPUs without VNNI cannot saturate their
   16-bit int8 sums (runtime/cpu_isa.py); ``vnni`` and ``gpu`` keep full 8-bit weights (32-bit
   accumulation there). The target is recorded in the metadata and manifest (``int8_target``);
   the runtime warns when an artifact runs on a CPU it was not made for.
6. ``rounding="gptq"``: weight codes on the same per-channel grid, rounded column by column with
   each rounding error moved onto the columns not yet rounded (export/gptq.py), so each conv's
   output on calibration-like inputs moves less than with nearest rounding.
7. ``finetune_steps``: optionally, quantization-aware fine-tuning of the codes, biases and float
   weights end to end against the float model's own outputs on the calibration crops
   (export/int8_finetune.py); ranges, grid and graph stay as above.
8. ``dither``: subtractive ordered dither on the decoder's activations (export/dither.py), so the
   rounding of flat, denoised regions no longer adds up to a colour shift; removed exactly after
   each int8 conv by a 1-channel float conv (or one more channel of the float image conv beside
   it). ``auto``: ``last`` (the decoder's finest level) on CPU targets, none for gpu.
9. CPU targets: OpenVINO's AVX2 kernels block output channels by 8, so a float k x k conv with
   under 8 outputs (student C's last, 96 -> 3) becomes a 1x1 conv to its 27 taps, a one-hot
   depthwise shift and a 1x1 sum (``split_narrow_convs_into_taps``); a narrow 1x1 float conv gets
   zero filters up to 8 and a Slice. Both exact up to float summation order.
Every zero point is 0; for ``gpu`` every Q/DQ is signed int8 (the form TensorRT consumes).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .calibration import DEFAULT_CROP_SIZE, DEFAULT_CROPS, calibration_crops
from .contract import INPUT_NAME, load_onnx_checked, onnx_settings, read_metadata, set_metadata
from .errors import ExportError
from .progress import advance, stage
from .quant_config import (AUTO_ERROR_BUDGET, AUTO_MAX_FLOAT_MACS, DEFAULT_METHOD, IMAGE_CONV_MODES,  # noqa: F401
                           INT8_TARGETS, WEIGHT_BITS, QuantConfig, resolve_image_convs, resolve_target)

AUTO_NEGLIGIBLE = 0.02  # a conv whose int8 error is under 2% of the total is never worth keeping in float


def _output_mse_per_conv(m, candidates, thresholds, crops, threads=None, weight_bits=8, act_kinds=None,
                         dithered=frozenset()) -> dict[str, float]:
    """Output MSE vs float when only one conv (input activation + weights) is int8, on 4 crops (<=128 px);
    its input dithered as in the artifact when it is in ``dithered``."""
    from .dither import add_dither
    from .onnx_export import ort_session
    from .qdq import insert_qdq

    side = min(128, crops.shape[2], crops.shape[3])
    x = np.ascontiguousarray(crops[: min(4, len(crops)), :, :side, :side])
    ref = ort_session(m, threads).run(["output"], {"input": x})[0]
    out = {}
    for c in candidates:
        q = insert_qdq(m, {c.input[0]: thresholds[c.input[0]]}, {c.name}, act_convs={c.name},
                           weight_bits=weight_bits, act_kinds=act_kinds)
        if c.input[0] in dithered:
            q = add_dither(q, [c.input[0]])
        y = ort_session(q, threads).run(["output"], {"input": x})[0]
        out[c.name] = float(np.mean((y - ref) ** 2))
    return out


def choose_float_convs(errors: dict[str, float], mac_share: dict[str, float], budget: float = AUTO_ERROR_BUDGET,
                       max_float_macs: float = AUTO_MAX_FLOAT_MACS) -> list[str]:
    """Greedy: keep the worst convs in float until the predicted remaining error fits the budget,
    skipping any that would push the float share of MACs over ``max_float_macs``, and any whose own
    error is under ``AUTO_NEGLIGIBLE`` of the total: when the big ones do not fit, float convs that
    remove almost nothing would only cost time (cpu-fast kept 11% of its MACs float for 0.2% of
    the predicted error)."""
    total = sum(errors.values())
    remaining = total
    kept, share = [], 0.0
    for name in sorted(errors, key=errors.get, reverse=True):
        if remaining <= budget or errors[name] < AUTO_NEGLIGIBLE * total:
            break
        if share + mac_share.get(name, 0.0) > max_float_macs:
            continue
        kept.append(name)
        share += mac_share.get(name, 0.0)
        remaining -= errors[name]
    return kept


IMAGE_CONCAT_THRESHOLD = 127.0 / 255.0  # signed codes at scale 1/255: the shifted image exactly (rewrites.shift_image_concats)


def _scale_features_to_image_step(m, fused_inputs, crops, method, threads) -> None:
    """Give the features in each image concat the image's int8 step, 1/255: their range (``method``, over
    the crops) is scaled to 127/255 by a gain on their producer (exact in float: equalize.apply_gain)."""
    from .equalize import apply_gain, group_of
    from .graph import producers
    from .ranges import activation_stats, range_for

    prod = producers(m)
    feats = sorted({t for a in fused_inputs for t in prod[a].input if not t.startswith(INPUT_NAME)})
    st = activation_stats(m, crops, feats, threads=threads)
    for f in feats:
        group = group_of(m, f)
        if group is None:
            raise ExportError(f"--image-convs concat: the features {f} reach the image concat from no equalizable "
                              "producer; use --image-convs auto")
        apply_gain(m, group, IMAGE_CONCAT_THRESHOLD / range_for(st[f], method))


def _unify_thresholds(m, thresholds: dict, kinds: dict, fixed: set) -> list[list[str]]:
    """Give one range to the quantized tensors that ``qdq.hoist_qdq`` will meet at a common source (a
    pooled map read by the next encoder level and by a skip concat; the inputs of one concat), so that
    the source gets one quantizer that OpenVINO fuses into the conv making it. The largest range of the
    group wins (no value clips that did not before), or the fixed 1/255 step of an image concat.
    Edits ``thresholds``; returns the groups of more than one tensor."""
    from .graph import producers
    from .qdq import hoistable

    prod = producers(m)

    def sources(t, seen):
        n = prod.get(t)
        if n is None or not hoistable(n):
            return {t}
        ins = n.input if n.op_type == "Concat" else n.input[:1]
        out = set()
        for u in ins:
            if u and u not in seen:
                seen.add(u)
                out |= sources(u, seen)
        return out

    parent = {a: a for a in thresholds}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    owner: dict[str, str] = {}
    for a in sorted(thresholds):
        if kinds.get(a) == "image":
            continue
        for src in sources(a, set()):
            if src in owner:
                parent[find(a)] = find(owner[src])
            else:
                owner[src] = a
    groups: dict[str, list[str]] = {}
    for a in thresholds:
        groups.setdefault(find(a), []).append(a)
    out = []
    for members in groups.values():
        if len(members) < 2 or len({kinds.get(a) for a in members}) != 1:
            continue
        pinned = [thresholds[a] for a in members if a in fixed]
        t = pinned[0] if pinned else max(thresholds[a] for a in members)
        for a in members:
            thresholds[a] = t
        out.append(sorted(members))
    return sorted(out)


def quantize_int8_model(model, crops, config: QuantConfig | None = None, *, threads: int | None = None, progress=None):
    """In-memory recipe: returns (qdq model, report dict). ``config``: the recipe (default ``QuantConfig()``);
    ``threads``: ONNX Runtime threads of the calibration passes; ``progress(step, total, loss)``: the
    fine-tuning's progress. The report records the requested config and what each step chose."""
    import onnx

    from . import qdq
    from .dither import add_concat_dither, add_dither, compensation_hosts, dither_tensors, select
    from .equalize import equalize, equalized_tensors
    from .graph import array, conv_macs, conv_nodes, image_tensors, initializers, nonnegative_tensors
    from .ranges import ActivationStats, activation_stats, calibration_pass, range_for
    from .qdq import hoist_qdq
    from .rewrites import pad_output_channels, shift_image_concats, split_input_convs, split_narrow_convs_into_taps

    requested = config or QuantConfig()
    cfg = requested.resolved(read_metadata(model).get("model_kind", "student"))
    target, dither, image_mode, method = cfg.target, cfg.dither, cfg.image_convs, cfg.method
    wbits = cfg.weight_bits
    cpu = target != "gpu"
    m = onnx.ModelProto()
    m.CopyFrom(model)
    # concat mode: the image joins the features' int8 concat as exact signed codes (shift_image_concats)
    fused = shift_image_concats(m) if image_mode == "concat" and cfg.split_input else []
    image_convs = split_input_convs(m) if cfg.split_input else []
    convs = conv_nodes(m)
    n_eq = 0
    if cfg.equalize:
        with stage("equalization statistics (crops)", len(crops)):
            st = activation_stats(m, crops, equalized_tensors(m), samples_per_crop=1, threads=threads)
        n_eq = equalize(m, st, cfg.alpha)
    fused_inputs = {c.input[0] for c in convs if c.name in fused}
    if fused:
        with stage("image concat feature ranges (crops)", len(crops)):
            _scale_features_to_image_step(m, fused_inputs, crops, method, threads)
    auto = cfg.auto_float
    float_convs = set() if auto else set(cfg.keep_float)
    images = image_tensors(m)
    if image_mode == "float":
        float_convs |= set(image_convs)
        float_convs |= {c.name for c in convs if c.input[0] in images}
    elif image_mode == "auto":
        # the image part beside a dithered conv carries its compensation channel (export/dither.py)
        float_convs |= compensation_hosts(m, {c.input[0] for c in convs if c.input[0] not in images}, dither) & set(image_convs)
    q_convs = [c for c in convs if c.name not in float_convs]
    acts = sorted({c.input[0] for c in q_convs})
    nonneg = nonnegative_tensors(m) if cpu and cfg.unsigned_relu else set()
    kinds = {a: "image" if a in images else "u8" if a in nonneg else "s8" for a in acts}
    # One pass over the calibration crops measures the ranges and, for GPTQ, every candidate conv's
    # input Hessian (the automatic keep-float choice below only removes convs from that set).
    stats = ActivationStats([a for a in acts if kinds[a] != "image" and a not in fused_inputs])
    hessians = None
    if cfg.rounding == "gptq":
        from . import gptq

        hessians = gptq.ConvInputHessians(m, [c for c in q_convs if gptq.supported(c)])
    with stage("activation ranges" + (" and GPTQ statistics" if hessians else "") + " (crops)", len(crops)):
        calibration_pass(m, crops, [stats] + ([hessians] if hessians else []), threads)
    st = stats.result()
    # u8 tensors too are searched on the signed grid (T/127): the real u8 grid clipped less and the
    # output got worse on the tuning split (export/README.md, "Tried on the way, not adopted")
    thresholds = {}
    with stage(f"{method} range search (tensors)", len(acts)):
        for a in acts:
            thresholds[a] = (1.0 if kinds[a] == "image" else IMAGE_CONCAT_THRESHOLD if a in fused_inputs
                             else range_for(st[a], method))
            advance()
    macs = conv_macs(m, 512, 512)
    total = sum(macs.values())
    share = {k: v / total for k, v in macs.items()}
    errors = {}
    if auto:
        # measured as the artifact will round: dithered where it will be (a decoder conv's coherent
        # rounding error would otherwise keep it in float for an error the dither removes)
        dithered = frozenset(select(m, {a for a in acts if kinds[a] != "image"}, dither))
        with stage("int8 error of each conv"):
            errors = _output_mse_per_conv(m, q_convs, thresholds, crops, threads, wbits, kinds, dithered)
        chosen = choose_float_convs(errors, share, cfg.budget, cfg.max_float_macs)
        float_convs |= set(chosen)
        q_convs = [c for c in q_convs if c.name not in float_convs]
    q_names = {c.name for c in q_convs}
    thresholds = {a: t for a, t in thresholds.items() if any(c.input[0] == a for c in q_convs)}
    if cfg.hoist:
        report_unified = _unify_thresholds(m, thresholds, kinds, fused_inputs)
    codes = {}
    if hessians:
        inits = initializers(m)
        hess = hessians.result()
        with stage("GPTQ weight rounding (convs)", sum(c.name in hess for c in q_convs)):
            for c in q_convs:
                if c.name in hess:
                    codes[c.name] = gptq.gptq_codes(array(inits[c.input[1]]), hess[c.name], wbits)
                    advance()
    out = qdq.insert_qdq(m, thresholds, q_names, act_convs=q_names, weight_bits=wbits, act_kinds=kinds, weight_codes=codes)
    report = {"target": target, "image_convs": image_mode, "weight_bits": wbits, "weight_rounding": cfg.rounding, "method": method, "equalized_producers": n_eq, "split_image_convs": image_convs,
              "float_convs": sorted(float_convs), "int8_convs": [c.name for c in q_convs],
              "float_mac_share": round(sum(share[c] for c in float_convs if c in share), 4),
              "auto_output_mse": {k: float(f"{v:.3g}") for k, v in errors.items()},
              "activation_thresholds": {k: round(float(v), 6) for k, v in thresholds.items()},
              "activation_kinds": {k: kinds[k] for k in thresholds}}
    if cfg.finetune_steps:
        from .int8_finetune import finetune_int8

        out, report["finetune"] = finetune_int8(out, model, crops, steps=cfg.finetune_steps, threads=threads,
                                                weight_bits=wbits, progress=progress)
    # Last: the compensation convs are made from the final int8 weights (after fine-tuning).
    dithered = [t for t in dither_tensors(out, kinds, dither) if t not in fused_inputs]
    if dithered:
        out = add_dither(out, dithered)
    if fused:
        report["image_concat_convs"] = fused
    if cfg.hoist:
        report["hoisted_qdq"] = hoist_qdq(out)
        report["unified_scales"] = report_unified
    if fused and dither != "none":
        dithered += add_concat_dither(out, fused)
    report["dither"] = {"mode": dither, "tensors": dithered}
    if cpu:
        report["tap_split_convs"] = split_narrow_convs_into_taps(out, float_convs)
        report["padded_convs"] = pad_output_channels(out, float_convs - set(report["tap_split_convs"]))
    report["config"] = {"requested": requested.to_dict(), "resolved": cfg.to_dict()}
    report["target_choice"] = requested.choice()
    report["float_precision"] = cfg.float_precision
    return out, report


def quantize(onnx_path: str | Path, out_path: str | Path, precision: str, calibration_source=None,
             config: QuantConfig | None = None, *, num_crops: int = DEFAULT_CROPS, crop_size: int | None = DEFAULT_CROP_SIZE,
             seed: int = 0, write_manifest_file: bool = True, threads: int | None = None, progress=None) -> Path:
    """Write an INT8 Q/DQ or FP16 variant of a hushframe fp32 ONNX model (atomically, with a manifest).

    ``config``: the INT8 recipe (default ``QuantConfig()``); ``num_crops``, ``crop_size``, ``seed``: the
    calibration crops drawn from ``calibration_source`` (a folder of images or a video). ``crop_size``
    None: 256 px, or the largest multiple of the model's size multiple that the calibration frames
    hold (calibration.calibration_crops).
    """
    import onnx

    from hushframe.core.atomic import atomic_path, check_output_path
    from hushframe.core.manifest import file_sha256, write_manifest

    out_path = check_output_path(out_path)
    if precision not in ("int8", "fp16"):
        raise ExportError(f"precision {precision!r}: expected int8 or fp16")
    model = load_onnx_checked(onnx_path)
    settings = onnx_settings(model, onnx_path)
    if settings.get("precision", "fp32") != "fp32":
        raise ExportError(f"{onnx_path}: is already {settings.get('precision')}; quantize the fp32 export")
    source = {"onnx": str(onnx_path), "sha256": file_sha256(onnx_path)}
    extra = {}
    new_settings = dict(settings, precision=precision)
    if precision == "fp16":
        from .fp16 import to_fp16

        out = to_fp16(model)
    else:
        if calibration_source is None:
            raise ExportError("int8 needs --calibration FOLDER_OR_VIDEO (the user's noisy frames)")
        config = config or QuantConfig()
        config.resolved(settings.get("model_kind", "student"))  # a recipe the model refuses fails before calibration
        with stage("reading calibration frames"):
            crops = calibration_crops(calibration_source, num_crops, crop_size, seed, int(settings["size_multiple"]))
        out, report = quantize_int8_model(model, crops, config, threads=threads, progress=progress)
        new_settings["int8_target"] = report["target"]
        if report["float_precision"] != "f32":  # the OpenVINO runtime's hint for the float convs (core/contract.py)
            new_settings["cpu_float_precision"] = report["float_precision"]
        source["calibration"] = {"source": str(calibration_source), "crops": num_crops, "crop_size": int(crops.shape[-1]),
                                 "seed": seed}
        extra = {"quantization": report}
    set_metadata(out, new_settings)
    out.producer_name = "hushframe"
    with atomic_path(out_path) as tmp:
        onnx.save(out, str(tmp))
    if write_manifest_file:
        write_manifest(out_path, kind="onnx", made_by=f"hushframe quantize --precision {precision}", source=source,
                       settings=new_settings, extra=extra, tools=("onnx", "onnxruntime"))
    return out_path
