"""Explicit INT8 Q/DQ for our conv nets, written for TensorRT's explicit-quantization form.

* Weights: int8 initializers, symmetric per output channel (axis 0), zero point 0, behind a
  DequantizeLinear; 7-bit codes (|q| <= 63) for the ``avx2`` target. Biases stay float (TensorRT folds them).
* Activations: QuantizeLinear -> DequantizeLinear on each quantized Conv's data input, one
  per-tensor scale, zero point 0, of one of three kinds (``act_kinds``):
  ``s8`` signed int8 over [-T, T] (TensorRT's form; every tensor for the ``gpu`` target);
  ``u8`` unsigned over [0, T] for tensors non-negative by construction (after ReLU): twice the
  resolution for the same range, CPU targets only; ``image`` unsigned with scale 1/255 for the
  image itself or a rearrangement of it (pixel-unshuffle): 8-bit frames are k/255, so this
  quantization is exact.
* ``split_input_convs``: a Conv fed by Concat(features, network input) becomes
  Conv(features) + Conv(input) (exact: convolution is linear in its input channels), so the
  image itself can stay float while the wide feature part runs in int8.
* ``equalize``: per-channel activation equalization (cross-layer scaling). LeakyReLU, MaxPool,
  nearest Resize and Concat commute with a positive per-channel scale, so scaling producer
  channel c by s_c and the consumers' input column c by 1/s_c leaves the float network
  unchanged while every channel of a per-tensor-quantized activation gets a similar range.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .progress import advance

from .contract import INPUT_NAME, OUTPUT_NAME

PASS_THROUGH = {"MaxPool", "Resize", "Concat"}
# Ops that only move values around: their output holds the same numbers as their input.
LAYOUT_OPS = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "SpaceToDepth", "DepthToSpace", "Identity", "Flatten"}
ACT_KINDS = ("s8", "u8", "image")


def image_tensors(model) -> set[str]:
    """The network input and every tensor that is only a rearrangement of it (pixel-unshuffle is
    Reshape + Transpose): for 8-bit frames these hold exactly the values k/255."""
    out = {INPUT_NAME}
    for n in model.graph.node:  # ONNX graphs are topologically sorted
        if n.op_type in LAYOUT_OPS and n.input and n.input[0] in out:
            out.add(n.output[0])
    return out


def nonnegative_tensors(model) -> set[str]:
    """Tensors that cannot be negative by construction (never judged from calibration data: a
    tensor merely never negative on the calibration crops could be on the user's frames)."""
    out: set[str] = set()
    for n in model.graph.node:
        ins = [t for t in n.input if t]
        if n.op_type == "Relu":
            out.add(n.output[0])
        elif n.op_type == "MaxPool" or n.op_type in LAYOUT_OPS:
            if ins and ins[0] in out:
                out.add(n.output[0])
        elif n.op_type == "Resize":  # nearest/linear interpolate convexly; cubic can undershoot
            if ins and ins[0] in out and _attr(n, "mode", b"nearest") in (b"nearest", b"linear"):
                out.add(n.output[0])
        elif n.op_type in ("Concat", "Add") and ins and all(t in out for t in ins):
            out.add(n.output[0])
    return out


# ------------------------------------------------------------------ graph helpers
def _inits(model) -> dict:
    return {i.name: i for i in model.graph.initializer}


def _consumers(model) -> dict[str, list]:
    out: dict[str, list] = {}
    for n in model.graph.node:
        for i, t in enumerate(n.input):
            out.setdefault(t, []).append((n, i))
    return out


def _producers(model) -> dict:
    return {o: n for n in model.graph.node for o in n.output}


def conv_nodes(model) -> list:
    return [n for n in model.graph.node if n.op_type == "Conv"]


def _array(init) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(init)


def _set_array(model, name: str, arr: np.ndarray) -> None:
    from onnx import numpy_helper

    for i, init in enumerate(model.graph.initializer):
        if init.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr, name))
            return
    model.graph.initializer.append(numpy_helper.from_array(arr, name))


def spatial_scales(model) -> dict[str, float]:
    """Each tensor's height relative to the input's: pooling and strided convs divide it, upsampling
    multiplies it (a Resize whose scales are not a constant is taken as 2x, as in every UNet here)."""
    inits = _inits(model)
    sc = {INPUT_NAME: 1.0}
    for n in model.graph.node:
        ins = [sc[t] for t in n.input if t in sc]
        if not ins:
            continue
        s = ins[0]
        if n.op_type in ("MaxPool", "AveragePool"):
            s /= _attr(n, "strides", _attr(n, "kernel_shape", [1]))[0]
        elif n.op_type == "Conv":
            s /= _attr(n, "strides", [1])[0]
        elif n.op_type == "ConvTranspose":
            s *= _attr(n, "strides", [1])[0]
        elif n.op_type == "Resize":
            known = len(n.input) > 2 and n.input[2] in inits and inits[n.input[2]].dims
            s *= float(_array(inits[n.input[2]])[2]) if known else 2.0
        elif n.op_type == "SpaceToDepth":
            s /= _attr(n, "blocksize", 1)
        elif n.op_type == "DepthToSpace":
            s *= _attr(n, "blocksize", 1)
        for o in n.output:
            sc[o] = s
    return sc


def conv_macs(model, height: int, width: int) -> dict[str, float]:
    """Multiply-accumulates per Conv at one input size (for the speed-cost statement)."""
    inits = _inits(model)
    sc = spatial_scales(model)
    return {n.name: float(np.prod(inits[n.input[1]].dims)) * (height * sc.get(n.output[0], 1.0)) * (width * sc.get(n.output[0], 1.0))
            for n in conv_nodes(model)}


# ------------------------------------------------------------------ input split
def split_input_convs(model) -> list[str]:
    """Split every Conv(Concat(..., input, ...)) into a feature conv + an input conv; returns the input convs' names."""
    import onnx
    from onnx import helper

    inits = _inits(model)
    prod = _producers(model)
    cons = _consumers(model)
    channels = _channel_counts(model)
    made = []
    for conv in list(conv_nodes(model)):
        cat = prod.get(conv.input[0])
        if cat is None or cat.op_type != "Concat" or INPUT_NAME not in cat.input:
            continue
        if len(cons.get(cat.output[0], [])) != 1:
            continue
        W = _array(inits[conv.input[1]])
        offs, o = [], 0
        for t in cat.input:
            offs.append((t, o, o + channels[t]))
            o += channels[t]
        if o != W.shape[1]:
            continue
        feat = [(t, a, b) for t, a, b in offs if t != INPUT_NAME]
        img = [(t, a, b) for t, a, b in offs if t == INPUT_NAME]
        w_feat = np.concatenate([W[:, a:b] for _, a, b in feat], axis=1)
        w_img = np.concatenate([W[:, a:b] for _, a, b in img], axis=1)
        base = conv.name
        attrs = list(conv.attribute)
        feat_in = feat[0][0] if len(feat) == 1 else cat.output[0]
        if len(feat) > 1:
            del cat.input[:]
            cat.input.extend([t for t, _, _ in feat])
        _set_array(model, conv.input[1] + ".features", w_feat.astype(np.float32))
        _set_array(model, conv.input[1] + ".input", w_img.astype(np.float32))
        out = conv.output[0]
        c_feat = helper.make_node("Conv", [feat_in, conv.input[1] + ".features"] + list(conv.input[2:3]),
                                  [out + ".features"], name=base)
        c_feat.attribute.extend(attrs)
        img_in = INPUT_NAME if len(img) == 1 else None
        c_img = helper.make_node("Conv", [img_in, conv.input[1] + ".input"], [out + ".input"], name=base + "_input_part")
        c_img.attribute.extend(attrs)
        add = helper.make_node("Add", [out + ".features", out + ".input"], [out], name=base + "_sum")
        nodes = list(model.graph.node)
        idx = nodes.index(conv)
        new = nodes[:idx] + [c_feat, c_img, add] + nodes[idx + 1:]
        if len(feat) == 1:
            new = [n for n in new if n is not cat]
        del model.graph.node[:]
        model.graph.node.extend(new)
        made.append(c_img.name)
        inits = _inits(model)
        prod = _producers(model)
        cons = _consumers(model)
    _drop_unused_initializers(model)
    onnx.checker.check_model(model)
    return made


def _drop_unused_initializers(model):
    used = {t for n in model.graph.node for t in n.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def _channel_counts(model) -> dict[str, int]:
    """Channel count of every 4-D tensor, from conv weights and pass-through ops (no shape inference needed)."""
    inits = _inits(model)
    ch = {INPUT_NAME: 3}
    for v in model.graph.input:
        if v.name == INPUT_NAME and v.type.tensor_type.shape.dim[1].HasField("dim_value"):
            ch[INPUT_NAME] = v.type.tensor_type.shape.dim[1].dim_value
    for n in model.graph.node:
        if n.op_type == "Conv":
            ch[n.output[0]] = int(inits[n.input[1]].dims[0])
        elif n.op_type == "Concat":
            if all(t in ch for t in n.input):
                ch[n.output[0]] = sum(ch[t] for t in n.input)
        elif n.op_type in ("LeakyRelu", "Relu", "MaxPool", "Resize", "Add", "Identity") and n.input and n.input[0] in ch:
            ch[n.output[0]] = ch[n.input[0]]
    return ch


# ------------------------------------------------------------------ narrow float convs
def pad_output_channels(model, conv_names, multiple: int = 8) -> list[str]:
    """Give each named float conv with fewer than ``multiple`` output channels zero filters up to
    ``multiple`` and slice its output back (exact). Why: OpenVINO's CPU kernels block output channels
    by 8 on AVX2, and a 3-output conv ran at a third of their speed (student C's last conv, padded:
    its 1080p INT8 IR took 1.14 -> 1.08x NNCF's time, export/README.md). A k x k conv is better split
    into taps (``split_narrow_convs_into_taps``); this is for the narrow 1x1 ones. Returns the padded convs."""
    from onnx import helper, numpy_helper

    inits = _inits(model)
    names = set(conv_names)
    done, slices = [], {}
    for conv in [n for n in conv_nodes(model) if n.name in names]:
        if conv.input[1] not in inits or _attr(conv, "group", 1) != 1:
            continue
        w = _array(inits[conv.input[1]])
        if w.shape[0] >= multiple:
            continue
        pad = np.zeros((multiple,) + w.shape[1:], w.dtype)
        pad[:w.shape[0]] = w
        # new names: the exporter shares identical initializers between convs (all-zero biases)
        _set_array(model, f"{conv.input[1]}_pad{multiple}", pad)
        conv.input[1] = f"{conv.input[1]}_pad{multiple}"
        if len(conv.input) > 2 and conv.input[2]:
            b = _array(inits[conv.input[2]])
            _set_array(model, f"{conv.input[2]}_pad{multiple}", np.concatenate([b, np.zeros(multiple - len(b), b.dtype)]))
            conv.input[2] = f"{conv.input[2]}_pad{multiple}"
        out = conv.output[0]
        conv.output[0] = f"{out}_padded"
        ranges = [f"{conv.name}_slice_{k}" for k in ("starts", "ends", "axes")]
        for name, v in zip(ranges, (0, w.shape[0], 1)):
            model.graph.initializer.append(numpy_helper.from_array(np.array([v], np.int64), name))
        slices[conv.name] = helper.make_node("Slice", [conv.output[0], *ranges], [out], name=f"{conv.name}_unpad")
        done.append(conv.name)
    if slices:  # one rebuild at the end, after every edit of the nodes above
        nodes = []
        for n in model.graph.node:
            nodes.append(n)
            if n.name in slices:
                nodes.append(slices[n.name])
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        _drop_unused_initializers(model)
    return done


def split_narrow_convs_into_taps(model, conv_names, max_outputs: int = 8) -> list[str]:
    """Rewrite each named float k x k conv (stride 1, no groups) with fewer than ``max_outputs``
    outputs as three convs: a 1x1 conv to one channel per (output, tap), a depthwise conv whose
    one-hot k x k kernels shift each tap into place (the original pads and dilations), and a 1x1
    conv that sums each output's taps and adds the bias. Exact up to float summation order.
    Why: OpenVINO's AVX2 f32 kernels block output channels by 8, so student C's last conv
    (96 -> 3, 3x3, kept float) either runs at a third of their speed or, padded to 8 outputs,
    does 8/3 of its work; as 27 taps it runs at a 1x1 kernel's speed on 27 of 32 lanes
    (1080p: 367 -> 193 ms, BENCHMARKS openvino-profile-taps). Returns the rewritten convs."""
    from onnx import helper

    inits = _inits(model)
    names = set(conv_names)
    done, rewrites = [], {}
    for conv in [n for n in conv_nodes(model) if n.name in names]:
        if conv.input[1] not in inits or _attr(conv, "group", 1) != 1 or any(s != 1 for s in _attr(conv, "strides", [1])):
            continue
        w = _array(inits[conv.input[1]])
        co, ci, kh, kw = w.shape
        if co >= max_outputs or kh * kw == 1:
            continue
        taps = co * kh * kw
        shift = np.zeros((taps, 1, kh, kw), w.dtype)
        total = np.zeros((co, taps, 1, 1), w.dtype)
        for t in range(taps):  # channel t = (output c, row i, column j), as w.transpose(0, 2, 3, 1) orders them
            c, i, j = np.unravel_index(t, (co, kh, kw))
            shift[t, 0, i, j] = 1
            total[c, t] = 1
        bias = _array(inits[conv.input[2]]) if len(conv.input) > 2 and conv.input[2] else np.zeros(co, w.dtype)
        pre = conv.name
        for suffix, arr in (("w", w.transpose(0, 2, 3, 1).reshape(taps, ci, 1, 1)), ("shift", shift), ("sum", total), ("b", bias)):
            _set_array(model, f"{pre}_taps_{suffix}", np.ascontiguousarray(arr))
        # the depthwise conv keeps the original's pads, dilations and kernel: it places each tap as the conv did
        kept = [a for a in conv.attribute if a.name not in ("group", "strides")]
        rewrites[conv.output[0]] = [
            helper.make_node("Conv", [conv.input[0], f"{pre}_taps_w"], [f"{pre}_taps_out"], name=f"{pre}_taps"),
            helper.make_node("Conv", [f"{pre}_taps_out", f"{pre}_taps_shift"], [f"{pre}_taps_shifted"], name=f"{pre}_shift", group=taps),
            helper.make_node("Conv", [f"{pre}_taps_shifted", f"{pre}_taps_sum", f"{pre}_taps_b"], [conv.output[0]], name=f"{pre}_sum")]
        rewrites[conv.output[0]][1].attribute.extend(kept)
        done.append(conv.name)
    if rewrites:
        nodes = []
        for n in model.graph.node:
            nodes.extend(rewrites.get(n.output[0], [n]) if n.op_type == "Conv" else [n])
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        _drop_unused_initializers(model)
    return done


# ------------------------------------------------------------------ calibration statistics
def session_with_outputs(model, tensors: list[str], threads: int | None = None):
    """An ONNX Runtime session of ``model`` that also returns the named intermediate tensors."""
    import onnx

    from .onnx_export import ort_session

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    return ort_session(m, threads)


def calibration_pass(model, crops: np.ndarray, accumulators: list, threads: int | None = None) -> None:
    """Run ``model`` once per calibration crop and hand every accumulator the tensors it asked for.

    One pass serves several statistics (activation ranges, GPTQ's Hessians): each crop costs one
    ONNX Runtime run, however many accumulators read it. An accumulator has ``tensors`` (names;
    the network input is always included) and ``add(values: dict[name, array])``.
    """
    tensors = sorted({t for a in accumulators for t in a.tensors} - {INPUT_NAME})
    sess = session_with_outputs(model, tensors, threads) if tensors else None
    for k in range(len(crops)):
        x = crops[k:k + 1]
        vals = dict(zip(tensors, sess.run(tensors, {INPUT_NAME: x}))) if sess else {}
        vals[INPUT_NAME] = x
        for a in accumulators:
            a.add(vals)
        advance()  # one crop of the current stage (export/progress.py)


class ActivationStats:
    """Per tensor: per-channel absmax over the crops and a random sample of values (for percentile/MSE ranges)."""

    def __init__(self, tensors: list[str], samples_per_crop: int = 20000, seed: int = 0):
        self.tensors = list(tensors)
        self.samples_per_crop = samples_per_crop
        self._rng = np.random.default_rng(seed)
        self._acc: dict[str, dict] = {t: {"absmax": None, "sample": []} for t in self.tensors}

    def add(self, vals: dict) -> None:
        for t in self.tensors:
            a = vals[t]
            cm = np.abs(a).max(axis=(0, 2, 3))
            st = self._acc[t]
            st["absmax"] = cm if st["absmax"] is None else np.maximum(st["absmax"], cm)
            flat = a.reshape(-1)
            st["sample"].append(flat[self._rng.integers(0, flat.size, min(self.samples_per_crop, flat.size))])

    def result(self) -> dict[str, dict]:
        return {t: {"absmax": st["absmax"], "sample": np.concatenate(st["sample"])} for t, st in self._acc.items()}


def activation_stats(model, crops: np.ndarray, tensors: list[str], samples_per_crop: int = 20000, seed: int = 0,
                     threads: int | None = None) -> dict[str, dict]:
    """Per tensor: per-channel absmax over the crops and a random sample of values (for percentile/MSE ranges)."""
    acc = ActivationStats(tensors, samples_per_crop, seed)
    calibration_pass(model, crops, [acc], threads)
    return acc.result()


def range_for(stats: dict, method: str = "mse") -> float:
    """Symmetric clipping threshold T (scale = T / 127) for one tensor.

    ``method``: mse | max | percentile[:Q], optionally ``*HEADROOM`` (e.g. ``max*1.5``): T times a
    factor, room for frames whose activations exceed every calibration crop (saturated colours).
    """
    if "*" in method:
        base, _, factor = method.partition("*")
        try:
            f = float(factor)
        except ValueError:
            raise ValueError(f"range method {method!r}: headroom after '*' must be a number") from None
        if not f >= 1.0:
            raise ValueError(f"range method {method!r}: headroom must be >= 1")
        return range_for(stats, base) * f
    amax = float(stats["absmax"].max())
    if amax <= 0:
        return 1e-8
    if method == "max":
        return amax
    x = np.abs(stats["sample"]).astype(np.float64)
    if method.startswith("percentile"):
        q = float(method.split(":", 1)[1]) if ":" in method else 99.99
        return max(float(np.percentile(x, q)), amax * 1e-3)
    if method == "mse":
        best, best_t = None, amax
        for f in np.linspace(0.3, 1.0, 71):
            t = amax * f
            s = t / 127.0
            q = np.clip(np.rint(x / s), -127, 127) * s
            e = float(np.mean((q - x) ** 2))
            if best is None or e < best:
                best, best_t = e, t
        return best_t
    raise ValueError(f"unknown range method {method!r} (mse, max, percentile[:Q], each optionally *HEADROOM)")


# ------------------------------------------------------------------ equalization
def _equalization_groups(model) -> list[tuple]:
    """(producer conv, [(consumer conv, channel offset)]) for each conv whose output only reaches convs
    through LeakyReLU + pass-through ops. The conv making the network output is never scaled."""
    prod_cons = _consumers(model)
    channels = _channel_counts(model)
    groups = []
    for p in conv_nodes(model):
        outs = prod_cons.get(p.output[0], [])
        if len(outs) != 1 or outs[0][0].op_type != "LeakyRelu":
            continue
        lrelu = outs[0][0]
        if lrelu.output[0] == OUTPUT_NAME:
            continue
        leaves, ok = [], True
        stack = [(lrelu.output[0], 0)]
        while stack and ok:
            t, off = stack.pop()
            if t == OUTPUT_NAME:
                ok = False
                break
            for n, idx in prod_cons.get(t, []):
                if n.op_type == "Conv" and idx == 0:
                    leaves.append((n, off))
                elif n.op_type in ("MaxPool", "Resize") and idx == 0:
                    if n.op_type == "Resize" and _attr(n, "mode", b"nearest") != b"nearest":
                        ok = False
                    stack.append((n.output[0], off))
                elif n.op_type == "Concat" and _attr(n, "axis", 1) == 1:
                    o = sum(channels.get(x, 0) for x in n.input[:idx])
                    stack.append((n.output[0], off + o))
                else:
                    ok = False
        if ok and leaves:
            groups.append((p, lrelu, leaves))
    return groups


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            import onnx

            return onnx.helper.get_attribute_value(a)
    return default


def equalize(model, stats: dict[str, dict], alpha: float = 1.0) -> int:
    """Scale channels so per-tensor activation ranges fit every channel; returns the number of producers scaled.

    ``stats`` needs per-channel absmax of each producer's LeakyReLU output.
    """
    inits = _inits(model)
    n = 0
    for p, lrelu, leaves in _equalization_groups(model):
        st = stats.get(lrelu.output[0])
        if st is None:
            continue
        r = np.asarray(st["absmax"], np.float64)
        r = np.maximum(r, r.max() * 1e-3 + 1e-12)
        s = (np.median(r) / r) ** alpha
        W = _array(inits[p.input[1]]).astype(np.float64)
        _set_array(model, p.input[1], (W * s[:, None, None, None]).astype(np.float32))
        if len(p.input) > 2 and p.input[2]:
            b = _array(inits[p.input[2]]).astype(np.float64)
            _set_array(model, p.input[2], (b * s).astype(np.float32))
        for c, off in leaves:
            Wc = _array(_inits(model)[c.input[1]]).astype(np.float64)
            Wc[:, off:off + len(s)] /= s[None, :, None, None]
            _set_array(model, c.input[1], Wc.astype(np.float32))
        inits = _inits(model)
        n += 1
    return n


# ------------------------------------------------------------------ Q/DQ insertion
def quantize_weight_per_channel(w: np.ndarray, bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 codes and scales. ``bits=7`` keeps |q| <= 63 (still stored as
    int8) so that no pair of u8 x s8 products can saturate a 16-bit sum on CPUs without VNNI
    (see runtime/cpu_isa.py)."""
    top = float(2 ** (bits - 1) - 1)
    amax = np.abs(w).reshape(w.shape[0], -1).max(axis=1)
    scale = np.where(amax > 0, amax / top, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None, None, None]), -top, top).astype(np.int8)
    return q, scale


def act_qparams(kind: str, threshold: float) -> tuple[np.float32, np.ndarray]:
    """(scale, zero point) of one activation tensor of kind s8 | u8 | image (see the module doc)."""
    if kind == "image":
        return np.float32(1.0 / 255.0), np.array(0, np.uint8)
    t = max(float(threshold), 1e-8)
    if kind == "u8":
        return np.float32(t / 255.0), np.array(0, np.uint8)
    if kind == "s8":
        return np.float32(t / 127.0), np.array(0, np.int8)
    raise ValueError(f"activation kind {kind!r}: expected one of {', '.join(ACT_KINDS)}")


def insert_qdq(model, act_thresholds: dict[str, float], weight_convs: set[str], act_convs: set[str] | None = None,
               weight_bits: int = 8, act_kinds: dict[str, str] | None = None,
               weight_codes: dict[str, tuple[np.ndarray, np.ndarray]] | None = None):
    """Return a copy of ``model`` with Q/DQ on conv inputs (tensor -> threshold) and conv weights.

    ``act_convs``: only these convs get their input quantized (default: every conv whose input has a threshold).
    ``weight_bits``: 8, or 7 for artifacts that must run exactly on CPUs without VNNI.
    ``act_kinds``: tensor -> s8 | u8 | image (default s8: signed, zero point 0).
    ``weight_codes``: conv name -> (int8 codes, per-channel scales) made elsewhere (``gptq.py``);
    the other convs' weights are rounded to nearest.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = _inits(m)
    new_nodes = []
    act_done: dict[str, str] = {}
    # a weight several convs share (an AT-BSN teacher's two branches) gets codes per conv: GPTQ rounds
    # each conv against its own inputs, and initializer names must stay unique
    uses = Counter(n.input[1] for n in m.graph.node if n.op_type == "Conv" and n.name in weight_convs)
    for n in m.graph.node:
        if n.op_type == "Conv":
            t = n.input[0]
            if t in act_thresholds and (act_convs is None or n.name in act_convs):
                if t not in act_done:
                    scale, zero = act_qparams((act_kinds or {}).get(t, "s8"), act_thresholds[t])
                    sname, zname = f"{t}_qscale", f"{t}_qzero"
                    m.graph.initializer.append(numpy_helper.from_array(np.array(scale, np.float32), sname))
                    m.graph.initializer.append(numpy_helper.from_array(zero, zname))
                    q, dq = f"{t}_quantized", f"{t}_dequantized"
                    new_nodes.append(helper.make_node("QuantizeLinear", [t, sname, zname], [q], name=f"{t}_QuantizeLinear"))
                    new_nodes.append(helper.make_node("DequantizeLinear", [q, sname, zname], [dq], name=f"{t}_DequantizeLinear"))
                    act_done[t] = dq
                n.input[0] = act_done[t]
            if n.name in weight_convs:
                w = _array(inits[n.input[1]])
                wname = n.input[1] if uses[n.input[1]] == 1 else f"{n.input[1]}.{n.name}"
                qw, ws = (weight_codes or {}).get(n.name) or quantize_weight_per_channel(w, weight_bits)
                qname = f"{wname}_int8"
                m.graph.initializer.append(numpy_helper.from_array(qw, qname))
                m.graph.initializer.append(numpy_helper.from_array(ws, f"{wname}_wscale"))
                m.graph.initializer.append(numpy_helper.from_array(np.zeros(len(ws), np.int8), f"{wname}_wzero"))
                dq = helper.make_node("DequantizeLinear", [qname, f"{wname}_wscale", f"{wname}_wzero"], [f"{wname}_dequantized"],
                                      name=f"{wname}_DequantizeLinear", axis=0)
                new_nodes.append(dq)
                n.input[1] = f"{wname}_dequantized"
        new_nodes.append(n)
    del m.graph.node[:]
    m.graph.node.extend(new_nodes)
    _drop_unused_initializers(m)
    _ = TensorProto
    onnx.checker.check_model(m)
    return m


def qdq_violations(model) -> list[str]:
    """Every Q/DQ must be int8 with zero point 0 (symmetric): the form TensorRT consumes (``--target gpu``)."""
    inits = _inits(model)
    bad = []
    for n in model.graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if len(n.input) < 3 or n.input[2] not in inits:
            bad.append(f"{n.name}: no explicit zero point")
            continue
        z = _array(inits[n.input[2]])
        if z.dtype != np.int8:
            bad.append(f"{n.name}: zero point type {z.dtype}, expected int8")
        elif np.any(z != 0):
            bad.append(f"{n.name}: non-zero zero point")
    return bad
