"""Read and edit ONNX graphs of our conv nets: the helpers every quantizer step shares.

Public on purpose: the rewrites (``rewrites.py``, ``equalize.py``), the Q/DQ insertion
(``qdq.py``), the calibration statistics (``ranges.py``), the dither (``dither.py``) and GPTQ
(``gptq.py``) all read graphs the same way. Nothing here changes what a graph computes except
``set_array`` and ``drop_unused_initializers``, which edit initializers in place.

No shape inference is needed anywhere: channel counts come from conv weights and pass-through
ops, spatial scales from strides and upsampling factors (``channel_counts``, ``spatial_scales``).
"""

from __future__ import annotations

import numpy as np

from .contract import INPUT_NAME

# Ops that only move values around: their output holds the same numbers as their input.
LAYOUT_OPS = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "SpaceToDepth", "DepthToSpace", "Identity", "Flatten"}


def initializers(model) -> dict:
    """Initializer name -> TensorProto."""
    return {i.name: i for i in model.graph.initializer}


def consumers(model) -> dict[str, list]:
    """Tensor name -> [(node, input index)] of every node reading it."""
    out: dict[str, list] = {}
    for n in model.graph.node:
        for i, t in enumerate(n.input):
            out.setdefault(t, []).append((n, i))
    return out


def producers(model) -> dict:
    """Tensor name -> the node writing it."""
    return {o: n for n in model.graph.node for o in n.output}


def conv_nodes(model) -> list:
    return [n for n in model.graph.node if n.op_type == "Conv"]


def attr(node, name, default):
    """A node attribute's value, or ``default`` when the node does not set it."""
    for a in node.attribute:
        if a.name == name:
            import onnx

            return onnx.helper.get_attribute_value(a)
    return default


def array(init) -> np.ndarray:
    """An initializer (TensorProto) as a numpy array."""
    from onnx import numpy_helper

    return numpy_helper.to_array(init)


def set_array(model, name: str, arr: np.ndarray) -> None:
    """Replace the initializer ``name`` (or append it) with ``arr``."""
    from onnx import numpy_helper

    for i, init in enumerate(model.graph.initializer):
        if init.name == name:
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(arr, name))
            return
    model.graph.initializer.append(numpy_helper.from_array(arr, name))


def drop_unused_initializers(model) -> None:
    used = {t for n in model.graph.node for t in n.input}
    keep = [i for i in model.graph.initializer if i.name in used]
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def channel_counts(model) -> dict[str, int]:
    """Channel count of every 4-D tensor, from conv weights and pass-through ops (no shape inference needed)."""
    inits = initializers(model)
    for n in model.graph.node:  # a Q/DQ graph's conv weights: the int8 codes behind their DequantizeLinear
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            inits.setdefault(n.output[0], inits[n.input[0]])
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
        elif (n.op_type in ("LeakyRelu", "Relu", "MaxPool", "Resize", "Add", "Sub", "Identity", "QuantizeLinear", "DequantizeLinear")
              and n.input and n.input[0] in ch):
            ch[n.output[0]] = ch[n.input[0]]
    return ch


def spatial_scales(model) -> dict[str, float]:
    """Each tensor's height relative to the input's: pooling and strided convs divide it, upsampling
    multiplies it (a Resize whose scales are not a constant is taken as 2x, as in every UNet here)."""
    inits = initializers(model)
    sc = {INPUT_NAME: 1.0}
    for n in model.graph.node:
        ins = [sc[t] for t in n.input if t in sc]
        if not ins:
            continue
        s = ins[0]
        if n.op_type in ("MaxPool", "AveragePool"):
            s /= attr(n, "strides", attr(n, "kernel_shape", [1]))[0]
        elif n.op_type == "Conv":
            s /= attr(n, "strides", [1])[0]
        elif n.op_type == "ConvTranspose":
            s *= attr(n, "strides", [1])[0]
        elif n.op_type == "Resize":
            known = len(n.input) > 2 and n.input[2] in inits and inits[n.input[2]].dims
            s *= float(array(inits[n.input[2]])[2]) if known else 2.0
        elif n.op_type == "SpaceToDepth":
            s /= attr(n, "blocksize", 1)
        elif n.op_type == "DepthToSpace":
            s *= attr(n, "blocksize", 1)
        for o in n.output:
            sc[o] = s
    return sc


def conv_macs(model, height: int, width: int) -> dict[str, float]:
    """Multiply-accumulates per Conv at one input size (for the speed-cost statement)."""
    inits = initializers(model)
    sc = spatial_scales(model)
    return {n.name: float(np.prod(inits[n.input[1]].dims)) * (height * sc.get(n.output[0], 1.0)) * (width * sc.get(n.output[0], 1.0))
            for n in conv_nodes(model)}


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
            if ins and ins[0] in out and attr(n, "mode", b"nearest") in (b"nearest", b"linear"):
                out.add(n.output[0])
        elif n.op_type in ("Concat", "Add") and ins and all(t in out for t in ins):
            out.add(n.output[0])
    return out
