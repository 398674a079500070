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

from .graph import array, drop_unused_initializers, initializers

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
