"""`hushframe info`: what an artifact is, in lines a person reads (``--json`` for the raw manifest).

Torch-free: safetensors shapes come from the file's JSON header, ONNX from its graph (onnx, or
ONNX Runtime when onnx is not installed), OpenVINO IR from OpenVINO.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import typer

from hushframe.core.errors import HushframeError

MAX_HEADER = 100 << 20


def _safetensors_summary(p: Path) -> dict:
    """Parameter count and metadata from the header alone (8-byte length + JSON)."""
    from ..weights import WeightsError

    try:
        with open(p, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            if n > MAX_HEADER:
                raise ValueError("header too large")
            head = json.loads(f.read(n))
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise WeightsError(f"{p}: not a readable safetensors file ({e.__class__.__name__})") from None
    meta = head.pop("__metadata__", {}) or {}
    params = 0
    for t in head.values():
        k = 1
        for d in t.get("shape", []):
            k *= int(d)
        params += k
    try:
        config = json.loads(meta.get("config", "{}"))
    except ValueError:
        config = {}
    return {"arch": meta.get("arch"), "config": config, "parameters": params,
            "precision": sorted({t.get("dtype", "?") for t in head.values()})}


def _dims(shape) -> str:
    return "[" + ", ".join(str(d) if d not in (None, "", -1) else "?" for d in shape) + "]"


def _onnx_summary(p: Path) -> dict:
    try:
        import onnx
    except ImportError:
        onnx = None
    if onnx is not None:
        m = onnx.load(str(p), load_external_data=False)
        inits = {i.name for i in m.graph.initializer}
        params = 0
        for t in m.graph.initializer:
            k = 1
            for d in t.dims:
                k *= int(d)
            params += k

        def io(v):
            tt = v.type.tensor_type
            dims = [d.dim_param or d.dim_value for d in tt.shape.dim]
            return f"{v.name} {onnx.TensorProto.DataType.Name(tt.elem_type).lower()} {_dims(dims)}"

        opset = next((i.version for i in m.opset_import if i.domain in ("", "ai.onnx")), None)
        return {"inputs": [io(v) for v in m.graph.input if v.name not in inits],
                "outputs": [io(v) for v in m.graph.output], "parameters": params, "opset": opset}
    import onnxruntime as ort

    s = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"])
    return {"inputs": [f"{i.name} {i.type} {_dims(i.shape)}" for i in s.get_inputs()],
            "outputs": [f"{o.name} {o.type} {_dims(o.shape)}" for o in s.get_outputs()]}


def _openvino_summary(p: Path) -> dict:
    import openvino as ov

    m = ov.Core().read_model(str(p))
    params = 0
    for op in m.get_ops():
        if op.get_type_name() == "Constant":
            k = 1
            for d in op.get_output_shape(0):
                k *= int(d)
            params += k if k > 1 else 0

    def io(v):
        return f"{v.get_any_name()} {v.get_element_type().get_type_name()} {v.get_partial_shape()}"

    return {"inputs": [io(v) for v in m.inputs], "outputs": [io(v) for v in m.outputs], "constants": params}


INT8_WHERE = {"avx2": "7-bit weights: exact on every x86 CPU", "vnni": "8-bit weights: exact on VNNI/AMX CPUs",
              "amx": "8-bit weights: exact on VNNI/AMX CPUs, made for AMX",
              "gpu": "8-bit weights, signed codes: made for TensorRT"}


def _source_quantization(artifact) -> dict:
    """An IR compiled from a quantized .onnx: that .onnx's recipe (its manifest's ``quantization``), if
    the .onnx is still the file the IR was made from (runtime/lineage.py), else nothing."""
    from hushframe.core.manifest import read_manifest
    from hushframe.runtime.lineage import lineage

    for src in lineage(artifact).chain[1:]:
        q = (read_manifest(src) or {}).get("quantization")
        if q:
            return q
    return {}


def _int8_lines(settings: dict, q: dict) -> list[str]:
    """Where an INT8 artifact runs exactly (and whether this CPU is one), and what its quantizer chose."""
    from hushframe.runtime.cpu_isa import int8_target_problem

    target = settings.get("int8_target")
    line = f"  int8        target {target or '?'} ({INT8_WHERE.get(target, 'made before targets were recorded: 8-bit weights')})"
    if int8_target_problem(target):
        line += "; this CPU has no VNNI/AMX: its int8 sums may saturate (`hushframe quantize --target avx2` runs everywhere)"
    lines = [line]
    choice = (q or {}).get("target_choice")
    if choice:
        lines.append(f"  recipe      {choice.get('target')}: {choice.get('why')}"
                     + (f"; float convs {q['float_precision']} in OpenVINO where the CPU has bf16"
                        if q.get("float_precision", "f32") != "f32" else ""))
    if q:
        dither = q.get("dither") or {}
        lines.append(f"  quantizer   {q.get('float_mac_share', 0):.1%} of MACs float ({len(q.get('float_convs', []))} convs), "
                     f"image convs {q.get('image_convs', 'float')}, dither {dither.get('mode', 'none')}, "
                     f"{q.get('weight_rounding', 'nearest')} rounding")
    return lines


def _facts(p: Path) -> dict:
    """What the file itself says; a file its reader cannot parse is one line naming it (issue 27: a
    corrupt .onnx / .xml ended in a traceback)."""
    suffix = p.suffix.lower()
    if suffix == ".safetensors":
        return _safetensors_summary(p)
    what, read = {".onnx": ("ONNX model", _onnx_summary), ".xml": ("OpenVINO IR", _openvino_summary)}.get(suffix, (None, None))
    if read is None:
        return {}
    from hushframe.runtime.artifact import load_artifact

    load_artifact(p)  # the file's structure (and an IR's .bin) first: OpenVINO's frontends never see a damaged file
    try:
        return read(p)
    except HushframeError:
        raise
    except Exception as e:  # onnx's DecodeError, onnxruntime's Fail, OpenVINO's RuntimeError
        msg = " ".join(str(e).split()) or e.__class__.__name__
        raise HushframeError(f"{p}: not a readable {what} ({msg[:200]})") from None


def describe(path: Path) -> list[str]:
    from hushframe.core.manifest import read_manifest

    p = Path(path)
    if not p.exists():
        raise HushframeError(f"{p}: no such file")
    if p.is_dir():
        raise HushframeError(f"{p}: is a folder; give an artifact file")
    doc = read_manifest(p) or {}
    st = doc.get("settings", {}) or {}
    lines = [f"{p.name}: {p.stat().st_size / 2**20:.2f} MiB"]
    kind = doc.get("kind")
    if kind:
        made = doc.get("made_by", "?")
        lines.append(f"  kind        {kind}, made by `{made}` on {doc.get('created', '?')}")
    src = doc.get("source") or {}
    if src:
        lines.append("  from        " + ", ".join(f"{k} {str(v)[:12] if k == 'sha256' else v}" for k, v in src.items()
                                                if not isinstance(v, dict)))
    facts = _facts(p)
    arch = st.get("arch") or facts.get("arch")
    if arch:
        lines.append(f"  model       {arch}" + (f" ({st['model_kind']})" if st.get("model_kind") else ""))
    prec = st.get("precision") or (", ".join(facts["precision"]) if facts.get("precision") else None)
    if prec:
        lines.append(f"  precision   {prec}")
    mult = st.get("size_multiple") or (facts.get("config") or {}).get("size_multiple")
    if mult:
        lines.append(f"  size        any WIDTHxHEIGHT; the engine takes multiples of {mult} (the runtime pads and "
                     f"crops)")
    for key, label in (("inputs", "input"), ("outputs", "output")):
        for v in facts.get(key, []):
            lines.append(f"  {label:<11} {v}")
    if prec == "int8":
        lines += _int8_lines(st, doc.get("quantization") or _source_quantization(p))
    n = facts.get("parameters") or doc.get("parameters")
    if n:
        lines.append(f"  parameters  {n:,}")
    if facts.get("opset"):
        lines.append(f"  opset       {facts['opset']}")
    if facts.get("config"):
        lines.append("  config      " + ", ".join(f"{k}={v}" for k, v in facts["config"].items()))
    tools = doc.get("tools") or {}
    if tools:
        lines.append("  tools       " + ", ".join(f"{k} {v}" for k, v in tools.items()))
    if not doc:
        lines.append(f"  (no manifest beside it: {p.name}.manifest.json)")
    return lines


def info(path: Path = typer.Argument(..., help="A .safetensors, .onnx, .xml or .engine artifact."),
         as_json: bool = typer.Option(False, "--json", help="Print the raw manifest as JSON.")):
    """Show what an artifact is: model, precision, inputs/outputs, size multiple, parameters, what made it.

      hushframe info runs/student/student.safetensors

      hushframe info student.onnx --json
    """
    if as_json:
        from hushframe.core.manifest import read_manifest

        if not Path(path).exists():
            raise HushframeError(f"{path}: no such file")
        doc = read_manifest(path)
        if doc is None:
            raise HushframeError(f"{path}: no manifest beside it ({Path(path).name}.manifest.json)")
        typer.echo(json.dumps(doc, indent=2))
        return
    typer.echo("\n".join(describe(path)))


def register(root: typer.Typer) -> None:
    """Add `info` to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.command("info", rich_help_panel="Models")(info)
