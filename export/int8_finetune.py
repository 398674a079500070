"""Quantization-aware fine-tuning of an INT8 Q/DQ model against its own float model.

GPTQ (export/gptq.py) rounds each conv's weights for that conv's output alone, and nothing
compensates the activations' rounding: the errors of 15 quantized tensors add up at the output,
and on images where the float model is most accurate they cost up to 0.3 dB (export/README.md).
This step trains the Q/DQ model end to end on the user's noisy frames, with the loss

    || int8_model(x) - float_model(x) ||^2      (the float model's output is the target: no labels)

so the quantity the parity gate measures is the quantity minimised. What may change is only what
the artifact already stores: the int8 weight codes (on their fixed per-channel grid, 7 or 8 bits),
the float biases, and the weights of the convs kept float. Activation scales, the graph and its
speed stay as the quantizer made them, so the artifact reads exactly as before on every backend.

The Q/DQ graph is run in torch by a small interpreter of the ops our exports use (Conv, ReLU,
LeakyReLU, MaxPool, nearest Resize, Concat, Add, layout ops, Q/DQ). Fake quantization
(``torch.fake_quantize_*``) rounds like ONNX's QuantizeLinear and passes gradients straight
through inside the range (STE). The float target runs through the same interpreter.
"""

from __future__ import annotations

import numpy as np

from .errors import ExportError
from .rewrites import IMAGE_ZEROS_WEIGHT

SUPPORTED_OPS = {"Conv", "Relu", "LeakyRelu", "MaxPool", "Resize", "Concat", "Add", "QuantizeLinear", "DequantizeLinear",
                 "Reshape", "Transpose", "Unsqueeze", "Squeeze", "DepthToSpace", "SpaceToDepth", "Identity", "Constant",
                 "Shape", "Div", "Tile", "Slice",  # these four build the dither pattern (export/dither.py)
                 "Sub"}  # the shifted image of --image-convs concat (export/rewrites.py)


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class QDQGraph:
    """Runs an ONNX Q/DQ (or plain float) model of our op set in torch, with trainable weights.

    Int8 convs (weight behind a DequantizeLinear of int8 codes) keep a float latent weight that is
    fake-quantized on its per-channel grid in every forward; float convs and all biases are plain
    parameters. ``codes()`` reads back the int8 codes to write into the ONNX model.
    """

    def __init__(self, model, weight_bits: int | None = None):
        import torch
        from onnx import numpy_helper

        self.model = model
        self.nodes = list(model.graph.node)
        bad = sorted({n.op_type for n in self.nodes} - SUPPORTED_OPS)
        if bad:
            raise ExportError(f"int8 fine-tuning: unsupported ops {', '.join(bad)}")
        init = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        self.consts = {k: torch.from_numpy(np.array(v)) for k, v in init.items()}
        dq_of = {n.output[0]: n for n in self.nodes if n.op_type == "DequantizeLinear"}
        self.params: dict[str, torch.nn.Parameter] = {}
        self.weight_q: dict[str, tuple] = {}  # conv weight tensor name -> (codes init, scale, qmin, qmax)
        for n in self.nodes:
            if n.op_type != "Conv":
                continue
            w = n.input[1]
            dq = dq_of.get(w)
            if dq is not None and dq.input[0] in init and init[dq.input[0]].dtype == np.int8:
                codes, scale = init[dq.input[0]], init[dq.input[1]].astype(np.float32)
                if weight_bits:
                    top = 2 ** (weight_bits - 1) - 1
                else:  # read off the codes: the quantizer puts each channel's largest weight on the grid's edge
                    top = 63 if int(np.abs(codes).max(initial=0)) <= 63 else 127
                latent = codes.astype(np.float32) * scale.reshape(-1, *([1] * (codes.ndim - 1)))
                self.params[w] = torch.nn.Parameter(torch.from_numpy(latent))
                self.weight_q[w] = (dq.input[0], torch.from_numpy(scale), -top, top)
            elif w in init and w != IMAGE_ZEROS_WEIGHT:  # that one must stay zero (export/rewrites.py)
                self.params[w] = torch.nn.Parameter(self.consts[w].float().clone())
            if len(n.input) > 2 and n.input[2] in init:
                self.params[n.input[2]] = torch.nn.Parameter(self.consts[n.input[2]].float().clone())
        self._skip = {n.output[0] for n in dq_of.values() if n.output[0] in self.weight_q}

    def parameters(self):
        return list(self.params.values())

    def _weight(self, name):
        import torch

        p = self.params[name]
        if name not in self.weight_q:
            return p
        _, scale, lo, hi = self.weight_q[name]
        return torch.fake_quantize_per_channel_affine(p, scale, torch.zeros(len(scale), dtype=torch.int32), 0, lo, hi)

    def __call__(self, x):
        import torch
        import torch.nn.functional as F

        env = {self.model.graph.input[0].name: x}

        def get(t):
            if t in env:
                return env[t]
            if t in self.params:
                return self.params[t]
            return self.consts[t]

        for n in self.nodes:
            op, a, ins = n.op_type, _attrs(n), list(n.input)
            if op == "DequantizeLinear" and n.output[0] in self._skip:
                continue
            if op == "Conv":
                w = self._weight(ins[1])
                b = get(ins[2]) if len(ins) > 2 and ins[2] else None
                pads = a.get("pads", [0, 0, 0, 0])
                xin = get(ins[0])
                if pads[0] != pads[2] or pads[1] != pads[3]:
                    xin = F.pad(xin, (pads[1], pads[3], pads[0], pads[2]))
                    pad = 0
                else:
                    pad = (pads[0], pads[1])
                y = F.conv2d(xin, w, b, stride=tuple(a.get("strides", [1, 1])), padding=pad,
                             dilation=tuple(a.get("dilations", [1, 1])), groups=a.get("group", 1))
            elif op == "QuantizeLinear":
                scale, zero = get(ins[1]), get(ins[2])
                lo, hi = (0, 255) if zero.dtype == torch.uint8 else (-128, 127)
                # Fused Q -> DQ below: this node carries the fake-quantized float tensor.
                y = torch.fake_quantize_per_tensor_affine(get(ins[0]), float(scale), int(zero), lo, hi)
            elif op == "DequantizeLinear":
                y = get(ins[0])  # its QuantizeLinear already produced the dequantized values
            elif op == "Relu":
                y = F.relu(get(ins[0]))
            elif op == "LeakyRelu":
                y = F.leaky_relu(get(ins[0]), a.get("alpha", 0.01))
            elif op == "MaxPool":
                if any(a.get("pads", [0])) or a.get("ceil_mode", 0):
                    raise ExportError(f"int8 fine-tuning: MaxPool {n.name} with padding or ceil_mode")
                y = F.max_pool2d(get(ins[0]), a["kernel_shape"], a.get("strides", a["kernel_shape"]))
            elif op == "Resize":
                if a.get("mode", b"nearest") != b"nearest":
                    raise ExportError(f"int8 fine-tuning: Resize {n.name} is not nearest")
                scales = get(ins[2]).tolist()
                y = F.interpolate(get(ins[0]), scale_factor=tuple(scales[2:]), mode="nearest")
            elif op == "Concat":
                y = torch.cat([get(t) for t in ins], dim=a.get("axis", 1))
            elif op == "Sub":
                y = get(ins[0]) - get(ins[1])
            elif op == "Add":
                y = get(ins[0]) + get(ins[1])
            elif op == "Reshape":
                shape = [int(s) for s in get(ins[1]).tolist()]
                src = get(ins[0])
                shape = [src.shape[i] if s == 0 else s for i, s in enumerate(shape)]
                y = src.reshape(shape)
            elif op == "Transpose":
                y = get(ins[0]).permute(*a["perm"])
            elif op == "Unsqueeze":
                y = get(ins[0])
                for d in sorted(int(v) for v in get(ins[1]).tolist()):
                    y = y.unsqueeze(d)
            elif op == "Squeeze":
                y = get(ins[0])
                for d in sorted((int(v) for v in get(ins[1]).tolist()), reverse=True):
                    y = y.squeeze(d)
            elif op == "DepthToSpace":
                if a.get("mode", b"DCR") != b"CRD":
                    raise ExportError(f"int8 fine-tuning: DepthToSpace {n.name} is not CRD")
                y = F.pixel_shuffle(get(ins[0]), a["blocksize"])
            elif op == "SpaceToDepth":
                y = F.pixel_unshuffle(get(ins[0]), a["blocksize"])
            elif op == "Identity":
                y = get(ins[0])
            elif op == "Shape":  # the dither pattern's size (export/dither.py)
                y = torch.tensor(get(ins[0]).shape[a.get("start", 0):a.get("end", None)], dtype=torch.int64)
            elif op == "Div":
                num, den = get(ins[0]), get(ins[1])
                y = torch.div(num, den, rounding_mode="floor") if not num.is_floating_point() else num / den
            elif op == "Tile":
                y = get(ins[0]).repeat(*[int(r) for r in get(ins[1]).tolist()])
            elif op == "Slice":
                y = get(ins[0])
                steps = get(ins[4]).tolist() if len(ins) > 4 and ins[4] else None
                if steps and any(s != 1 for s in steps):
                    raise ExportError(f"int8 fine-tuning: Slice {n.name} with steps")
                for st, en, ax in zip(get(ins[1]).tolist(), get(ins[2]).tolist(), get(ins[3]).tolist()):
                    y = y.narrow(int(ax), int(st), int(min(en, y.shape[int(ax)]) - st))
            elif op == "Constant":
                from onnx import numpy_helper

                y = torch.from_numpy(np.array(numpy_helper.to_array(a["value"])))
            env[n.output[0]] = y
        return env[self.model.graph.output[0].name]

    def write_back(self):
        """A copy of the ONNX model with the trained codes, biases and float weights."""
        import onnx
        from onnx import numpy_helper

        m = onnx.ModelProto()
        m.CopyFrom(self.model)
        new = {}
        for name, p in self.params.items():
            w = p.detach().numpy()
            if name in self.weight_q:
                init, scale, lo, hi = self.weight_q[name]
                s = scale.numpy().reshape(-1, *([1] * (w.ndim - 1)))
                new[init] = np.clip(np.rint(w / s), lo, hi).astype(np.int8)
            else:
                new[name] = w.astype(np.float32)
        for i, t in enumerate(m.graph.initializer):
            if t.name in new:
                m.graph.initializer[i].CopyFrom(numpy_helper.from_array(new[t.name], t.name))
        return m


def finetune_int8(qmodel, float_model, crops: np.ndarray, *, steps: int = 200, batch: int = 4, size: int = 128,
                  lr: float = 2e-5, seed: int = 0, threads: int | None = None, weight_bits: int | None = None,
                  progress=None):
    """Return (fine-tuned Q/DQ model, report). ``crops``: N x 3 x H x W calibration crops in [0, 1];
    ``weight_bits``: the codes' grid (7 for the avx2 target, 8 otherwise; default: read off the codes)."""
    import torch

    if any(n.name.endswith("_dither_Add") for n in qmodel.graph.node):
        # the compensation convs are made from the int8 weights: training the codes would leave them stale
        raise ExportError("int8 fine-tuning: the model is already dithered; fine-tune first (quantize does)")
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    student, target = QDQGraph(qmodel, weight_bits), QDQGraph(float_model)
    opt = torch.optim.Adam(student.parameters(), lr=lr)
    # A short linear warm-up: Adam's first steps move every weight by about ``lr`` at once, which
    # on a 7-bit grid is a large share of a code step (the loss first rose at 1e-4 without it).
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / warm) * 0.5 * (1 + np.cos(np.pi * min(k, steps) / max(steps, 1))))
    n, _, h, w = crops.shape
    size = min(size, h, w)
    losses = []
    for step in range(steps):
        idx = rng.integers(0, n, batch)
        ys, xs = rng.integers(0, h - size + 1, batch), rng.integers(0, w - size + 1, batch)
        x = np.stack([crops[i, :, y:y + size, x0:x0 + size] for i, y, x0 in zip(idx, ys, xs)])
        x = torch.from_numpy(np.ascontiguousarray(x))
        with torch.no_grad():
            ref = target(x)
        loss = torch.mean((student(x) - ref) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if progress:
            progress(step + 1, steps, losses[-1])
    out = student.write_back()
    k = max(1, steps // 10)
    report = {"steps": steps, "batch": batch, "crop": size, "lr": lr,
              "loss_first": float(np.mean(losses[:k])) if losses else None,
              "loss_last": float(np.mean(losses[-k:])) if losses else None}
    return out, report
