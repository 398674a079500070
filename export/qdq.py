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

The steps around it live beside it: graph helpers (graph.py), the exact float rewrites
(rewrites.py, equalize.py), calibration statistics and ranges (ranges.py), the recipe (quantize.py).
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .graph import array, attr, consumers, drop_unused_initializers, initializers, producers

ACT_KINDS = ("s8", "u8", "image")


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
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = initializers(m)
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
                w = array(inits[n.input[1]])
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
    drop_unused_initializers(m)
    onnx.checker.check_model(m)
    return m


def qdq_violations(model) -> list[str]:
    """Every Q/DQ must be int8 with zero point 0 (symmetric): the form TensorRT consumes (``--target gpu``)."""
    inits = initializers(model)
    bad = []
    for n in model.graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if len(n.input) < 3 or n.input[2] not in inits:
            bad.append(f"{n.name}: no explicit zero point")
            continue
        z = array(inits[n.input[2]])
        if z.dtype != np.int8:
            bad.append(f"{n.name}: zero point type {z.dtype}, expected int8")
        elif np.any(z != 0):
            bad.append(f"{n.name}: non-zero zero point")
    return bad


HOISTABLE = ("Concat", "MaxPool", "Resize")


def hoistable(node) -> bool:
    """Ops that commute with an activation's Quantize -> Dequantize: Concat (elementwise per input),
    MaxPool (rounding and clipping are monotone, so the max of rounded values is the rounded max) and
    nearest Resize (it copies values)."""
    if node.op_type == "Resize":
        return attr(node, "mode", b"nearest") in (b"nearest", "nearest")
    if node.op_type == "Concat":
        return True
    return node.op_type == "MaxPool" and len(node.output) == 1


def _same_params(a, b, inits) -> bool:
    """Two QuantizeLinear nodes with equal scale and zero point (values and types)."""
    for x, y in zip(a.input[1:], b.input[1:]):
        if x == y:
            continue
        if x not in inits or y not in inits:
            return False
        u, v = array(inits[x]), array(inits[y])
        if u.dtype != v.dtype or u.shape != v.shape or not np.array_equal(u, v):
            return False
    return len(a.input) == len(b.input)


def hoist_qdq(model) -> int:
    """Move each activation Quantize -> Dequantize pair above the Concat, MaxPool and nearest Resize
    that produce its tensor, onto their inputs (same scale and zero point; a Concat's every input gets
    the pair), until none is left to move. Exact: those ops commute with the pair (``hoistable``), so
    ONNX Runtime computes the same numbers. Why: OpenVINO then runs the pooling, the upsampling and
    the concatenation on int8 codes, and fuses the pair into the conv that makes the input, which
    writes int8 instead of f32 (with the pair after them, they ran in f32 over the full-size map).
    An input already quantized with the same parameters shares its pair. Returns the pairs moved."""
    from onnx import helper

    moved = 0
    while True:
        _merge_twin_pairs(model)
        inits = initializers(model)
        prod, cons = producers(model), consumers(model)
        job = None
        for q in model.graph.node:
            if q.op_type != "QuantizeLinear" or q.input[0] in inits:
                continue
            p = prod.get(q.input[0])
            users = cons.get(q.output[0], [])
            if (p is None or not hoistable(p) or len(cons.get(q.input[0], [])) != 1 or len(users) != 1
                    or users[0][0].op_type != "DequantizeLinear"):
                continue
            job = (q, users[0][0], p)
            break
        if job is None:
            return moved
        q, dq, p = job
        params = list(q.input[1:])
        data = range(len(p.input)) if p.op_type == "Concat" else [0]
        new = []
        for i in data:
            u = p.input[i]
            twin = next((d for d, _ in cons.get(u, []) if d.op_type == "QuantizeLinear" and _same_params(d, q, inits)), None)
            if twin is not None:  # u is already quantized with the same parameters: share the pair
                p.input[i] = next(n for n, _ in cons[twin.output[0]] if n.op_type == "DequantizeLinear").output[0]
                continue
            name = f"{u}_hoisted"
            new.append((u, [helper.make_node("QuantizeLinear", [u, *params], [f"{name}_q"], name=f"{name}_QuantizeLinear"),
                            helper.make_node("DequantizeLinear", [f"{name}_q", *params], [f"{name}_dq"],
                                             name=f"{name}_DequantizeLinear")]))
            p.input[i] = f"{name}_dq"
        out = dq.output[0]
        p.output[0], old = out, p.output[0]  # the op now writes what the pair wrote; its old output is gone
        nodes = []
        before = {id(p): [n for _, pair in new for n in pair]}
        for n in model.graph.node:
            if n is q or n is dq:
                continue
            nodes.extend(before.get(id(n), []))
            nodes.append(n)
        del model.graph.node[:]
        model.graph.node.extend(nodes)
        del old
        moved += 1


def _merge_twin_pairs(model) -> None:
    """Where one tensor has several activation Quantize -> Dequantize pairs with equal parameters
    (two convs reading it with one scale, as ``quantize`` makes them when hoisting), keep one."""
    inits = initializers(model)
    cons = consumers(model)
    drop, rename = set(), {}
    for t, users in cons.items():
        qs = [n for n, _ in users if n.op_type == "QuantizeLinear" and n.input[0] == t and t not in inits]
        for other in qs[1:]:
            if not _same_params(other, qs[0], inits):
                continue
            keep_dq = next((d for d, _ in cons.get(qs[0].output[0], []) if d.op_type == "DequantizeLinear"), None)
            dqs = [d for d, _ in cons.get(other.output[0], [])]
            if keep_dq is None or len(dqs) != 1 or dqs[0].op_type != "DequantizeLinear":
                continue
            drop |= {id(other), id(dqs[0])}
            rename[dqs[0].output[0]] = keep_dq.output[0]
    if not drop:
        return
    nodes = [n for n in model.graph.node if id(n) not in drop]
    for n in nodes:
        for i, t in enumerate(n.input):
            if t in rename:
                n.input[i] = rename[t]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
