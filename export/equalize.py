"""Per-channel activation equalization (cross-layer scaling), exact in float.

LeakyReLU, MaxPool, nearest Resize and Concat commute with a positive per-channel scale, so
scaling producer channel c by s_c and the consumers' input column c by 1/s_c leaves the float
network unchanged while every channel of a per-tensor-quantized activation gets a similar range
(what fixed student C's ``dec2/conv2``: export/README.md, "INT8 accuracy").
"""

from __future__ import annotations

import numpy as np

from .contract import OUTPUT_NAME
from .graph import array, attr, channel_counts, consumers, conv_nodes, initializers, set_array


def equalization_groups(model) -> list[tuple]:
    """(producer conv, its LeakyReLU, [(consumer conv, channel offset)]) for each conv whose output only
    reaches convs through LeakyReLU + pass-through ops. The conv making the network output is never scaled.
    ``equalize`` needs the per-channel absmax of each group's LeakyReLU output (``ranges.activation_stats``)."""
    prod_cons = consumers(model)
    channels = channel_counts(model)
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
                    if n.op_type == "Resize" and attr(n, "mode", b"nearest") != b"nearest":
                        ok = False
                    stack.append((n.output[0], off))
                elif n.op_type == "Concat" and attr(n, "axis", 1) == 1:
                    o = sum(channels.get(x, 0) for x in n.input[:idx])
                    stack.append((n.output[0], off + o))
                else:
                    ok = False
        if ok and leaves:
            groups.append((p, lrelu, leaves))
    return groups


def equalized_tensors(model) -> list[str]:
    """The tensors whose per-channel ranges ``equalize`` reads: each group's LeakyReLU output."""
    return [g[1].output[0] for g in equalization_groups(model)]


def equalize(model, stats: dict[str, dict], alpha: float = 1.0) -> int:
    """Scale channels so per-tensor activation ranges fit every channel; returns the number of producers scaled.

    ``stats`` needs per-channel absmax of each producer's LeakyReLU output.
    """
    inits = initializers(model)
    n = 0
    for p, lrelu, leaves in equalization_groups(model):
        st = stats.get(lrelu.output[0])
        if st is None:
            continue
        r = np.asarray(st["absmax"], np.float64)
        r = np.maximum(r, r.max() * 1e-3 + 1e-12)
        s = (np.median(r) / r) ** alpha
        W = array(inits[p.input[1]]).astype(np.float64)
        set_array(model, p.input[1], (W * s[:, None, None, None]).astype(np.float32))
        if len(p.input) > 2 and p.input[2]:
            b = array(inits[p.input[2]]).astype(np.float64)
            set_array(model, p.input[2], (b * s).astype(np.float32))
        for c, off in leaves:
            Wc = array(initializers(model)[c.input[1]]).astype(np.float64)
            Wc[:, off:off + len(s)] /= s[None, :, None, None]
            set_array(model, c.input[1], Wc.astype(np.float32))
        inits = initializers(model)
        n += 1
    return n


def group_of(model, tensor: str):
    """The equalization group (``equalization_groups``) whose LeakyReLU output reaches ``tensor``
    through MaxPool / nearest Resize only, or None."""
    prod = {o: n for n in model.graph.node for o in n.output}
    groups = {g[1].output[0]: g for g in equalization_groups(model)}
    t = tensor
    while t not in groups:
        n = prod.get(t)
        if n is None or n.op_type not in ("MaxPool", "Resize"):
            return None
        t = n.input[0]
    return groups[t]


def apply_gain(model, group, gain: float) -> None:
    """Scale one group's producer channels by ``gain`` > 0 and its consumers' columns by 1/gain (exact in
    float, like ``equalize``: LeakyReLU, MaxPool, nearest Resize and Concat commute with it)."""
    p, _, leaves = group
    inits = initializers(model)
    n_out = int(inits[p.input[1]].dims[0])
    set_array(model, p.input[1], (array(inits[p.input[1]]).astype(np.float64) * gain).astype(np.float32))
    if len(p.input) > 2 and p.input[2]:
        set_array(model, p.input[2], (array(inits[p.input[2]]).astype(np.float64) * gain).astype(np.float32))
    for c, off in leaves:
        Wc = array(initializers(model)[c.input[1]]).astype(np.float64)
        Wc[:, off:off + n_out] /= gain
        set_array(model, c.input[1], Wc.astype(np.float32))
