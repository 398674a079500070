"""PyTorch weights -> ONNX (opset 17+), dynamic N/H/W, simplified, with the input contract in metadata."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from .contract import (DEFAULT_OPSET, INPUT_NAME, OUTPUT_NAME, SUPPORTED_OPSETS, contract_settings,
                       set_metadata)
from .errors import ExportError

PARITY_TOL = 1e-4


class _FixedBlindSpot:
    """Wrap the teacher so the traced graph has one input: forward(x) = teacher(x, k, pad=False)."""

    def __new__(cls, teacher, k: int):
        import torch

        class Wrapped(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.teacher = teacher

            def forward(self, x):
                return self.teacher(x, blind_spot=k, pad=False)

        return Wrapped().eval()


def load_weights(weights_path: str | Path):
    """Our safetensors weights -> (model in eval mode, model_kind); the network comes from the model
    provider (core/models.py: the toolkit's, found by its entry point)."""
    from hushframe.core.models import load_model, model_kind

    p = Path(weights_path)
    if p.suffix.lower() in (".pth", ".pt"):
        raise ExportError(f"{p}: a PyTorch checkpoint; convert it first with `hushframe import-weights {p.name} -o model.safetensors`")
    model = load_model(p)
    return model, model_kind(model)


def export_module(model, kind: str, out_path: str | Path, *, blind_spot: int | None = None, opset: int = DEFAULT_OPSET,
                  simplify: bool = True, verify: bool = True, source: dict | None = None) -> Path:
    """Export an in-memory model (Student or ATBSN) to ``out_path`` atomically, with a manifest."""
    import onnx
    import torch

    from hushframe.core.atomic import atomic_path, check_output_path
    from hushframe.core.manifest import write_manifest

    out_path = check_output_path(out_path)
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(f"opset {opset} is not supported (supported: {SUPPORTED_OPSETS[0]}-{SUPPORTED_OPSETS[-1]})")
    m = int(model.size_multiple)
    if kind == "teacher":
        from hushframe.core.contract import blind_spot_shift

        k = int(model.default_blind_spot if blind_spot is None else blind_spot)
        try:
            blind_spot_shift(k)
        except ValueError as e:
            raise ExportError(str(e)) from None
        net = _FixedBlindSpot(model, k)
    else:
        if blind_spot is not None:
            raise ExportError("--blind-spot applies to teachers only; this weights file holds a student")
        k = None
        # a model may trace as an equivalent form laid out for engines (TemporalStudent: its pixel
        # unshuffles folded into convs); the parity check below holds it to the model itself
        net = model.export_form() if hasattr(model, "export_form") else model.eval()
    settings = contract_settings(size_multiple=m, model_kind=kind, precision="fp32", arch=model.arch, blind_spot=k,
                                 **temporal_settings(model))
    # Trace with a non-square example: the teacher's square fast path is data dependent,
    # the two-pass path is valid for every shape.
    example = example_inputs(model, 1, 2 * m, 3 * m)
    names_in, names_out = io_names(model)
    axes = {n: {0: "batch", 2: "height", 3: "width"} for n in names_in + names_out}
    with tempfile.TemporaryDirectory(prefix=".hf-export-", dir=out_path.parent) as td:
        raw = Path(td) / "raw.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, example, str(raw), dynamo=False, opset_version=opset,
                              input_names=names_in, output_names=names_out, dynamic_axes=axes,
                              do_constant_folding=True)
        proto = onnx.load(str(raw))
        # onnxslim 0.1.x mis-infers the temporal graph's shapes (the state Concat: 6 channels, not 4;
        # onnx's full check refuses it), so a temporal model is saved as traced, constant-folded
        if simplify and not is_temporal(model):
            import onnxslim

            proto = onnxslim.slim(proto)
        proto.producer_name = "hushframe"
        set_metadata(proto, settings)
        onnx.checker.check_model(proto, full_check=True)
        if verify:
            err = max_abs_diff_torch_vs_onnx(net if kind == "teacher" else model.eval(), proto,
                                             *example_inputs(model, 2, 2 * m, 2 * m, seed=0))
            if not err <= PARITY_TOL:
                raise ExportError(f"exported graph differs from PyTorch by {err:.2e} (> {PARITY_TOL:g})")
        with atomic_path(out_path) as tmp:
            onnx.save(proto, str(tmp))
    write_manifest(out_path, kind="onnx", made_by="hushframe export", source=source or {},
                   settings=dict(settings, opset=opset, simplified=bool(simplify) and not is_temporal(model)), tools=("torch", "onnx", "onnxslim"))
    return out_path


def export_onnx(weights_path: str | Path, out_path: str | Path, blind_spot: int | None = None, *,
                opset: int = DEFAULT_OPSET, simplify: bool = True, verify: bool = True) -> Path:
    """Export a hushframe weights file (student, or teacher at a fixed blind spot) to ONNX."""
    from hushframe.core.atomic import check_output_path
    from hushframe.core.manifest import file_sha256

    check_output_path(out_path)
    model, kind = load_weights(weights_path)
    source = {"weights": str(weights_path), "sha256": file_sha256(weights_path)}
    return export_module(model, kind, out_path, blind_spot=blind_spot, opset=opset, simplify=simplify,
                         verify=verify, source=source)


def is_temporal(model) -> bool:
    return bool(getattr(model, "temporal", False))


def temporal_settings(model) -> dict:
    """The state contract of a temporal model, recorded in its metadata and manifest (core/temporal.py)."""
    if not is_temporal(model):
        return {}
    from hushframe.core.temporal import ALIGN, STATE_LAYOUT

    return {"state_channels": int(model.state_channels), "state_layout": STATE_LAYOUT, "align": ALIGN}


def io_names(model) -> tuple[list[str], list[str]]:
    if is_temporal(model):
        from hushframe.core.temporal import STATE_IN, STATE_OUT

        return [INPUT_NAME, STATE_IN], [OUTPUT_NAME, STATE_OUT]
    return [INPUT_NAME], [OUTPUT_NAME]


def example_inputs(model, n: int, h: int, w: int, seed: int | None = None) -> tuple:
    """Inputs to trace or check the graph with; a temporal model gets a state with history in it
    (a zero state would let tracing and the check see only the first-frame case)."""
    import torch

    g = torch.Generator().manual_seed(seed) if seed is not None else None
    x = torch.rand(n, 3, h, w, generator=g)
    if not is_temporal(model):
        return (x,)
    mean = (x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    count = torch.randint(0, 9, (n, 1, h, w), generator=g).float()
    return x, torch.cat([mean, count], 1)


def ort_session(model_or_path, threads: int | None = None):
    import onnxruntime as ort

    so = ort.SessionOptions()
    if threads:
        so.intra_op_num_threads = threads
    so.log_severity_level = 3
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def max_abs_diff_torch_vs_onnx(net, proto_or_path, *inputs) -> float:
    """Largest difference over every output (a temporal model's state too)."""
    import numpy as np
    import torch

    with torch.no_grad():
        ref = net(*inputs)
    refs = [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
    sess = ort_session(proto_or_path)
    names = [i.name for i in sess.get_inputs()]
    outs = sess.run([o.name for o in sess.get_outputs()], {n: t.numpy() for n, t in zip(names, inputs)})
    return max(float(np.abs(o - r).max()) for o, r in zip(outs, refs))
