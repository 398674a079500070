"""FP32 -> FP16 ONNX with float32 input/output (the contract): weights and activations in fp16.

A Cast after ``input`` and one before ``output`` keep the I/O types; every float32 constant
becomes fp16 except the ones ONNX requires in float32 (Resize roi/scales).
"""

from __future__ import annotations

import numpy as np

from .contract import INPUT_NAME, OUTPUT_NAME

_KEEP_FLOAT32_INPUTS = {"Resize": (1, 2)}


def to_fp16(model):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    keep = set()
    for n in g.node:
        for idx in _KEEP_FLOAT32_INPUTS.get(n.op_type, ()):
            if idx < len(n.input) and n.input[idx]:
                keep.add(n.input[idx])
    for i, init in enumerate(g.initializer):
        if init.data_type == TensorProto.FLOAT and init.name not in keep:
            g.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name))
    for n in g.node:
        if n.op_type == "Constant" and n.output[0] not in keep:
            for a in n.attribute:
                if a.name == "value" and a.t.data_type == TensorProto.FLOAT:
                    a.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(a.t).astype(np.float16), a.t.name))
        if n.op_type == "Cast":
            for a in n.attribute:
                if a.name == "to" and a.i == TensorProto.FLOAT:
                    a.i = TensorProto.FLOAT16
    in16, out16 = INPUT_NAME + "_fp16", OUTPUT_NAME + "_fp16"
    for n in g.node:
        for j, t in enumerate(n.input):
            if t == INPUT_NAME:
                n.input[j] = in16
        for j, t in enumerate(n.output):
            if t == OUTPUT_NAME:
                n.output[j] = out16
    nodes = [helper.make_node("Cast", [INPUT_NAME], [in16], name="input_to_fp16", to=TensorProto.FLOAT16)]
    nodes += list(g.node)
    nodes.append(helper.make_node("Cast", [out16], [OUTPUT_NAME], name="output_to_fp32", to=TensorProto.FLOAT))
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    onnx.checker.check_model(m)
    return m
