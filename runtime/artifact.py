"""What an artifact is: format, tensor names, size multiple, precision (manifest first, then guesses).

Reads only JSON manifests (``X.manifest.json``); never imports an engine. The engine
backends fill in what only the engine can tell (names from the graph, profile shapes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hushframe.core.contract import DEFAULT_MULTIPLE, FORMATS
from hushframe.core.manifest import read_manifest

from .errors import ArtifactError


@dataclass
class Artifact:
    path: Path
    format: str                      # onnx | openvino | tensorrt | torch
    size_multiple: int = DEFAULT_MULTIPLE
    input_name: str | None = None    # None: the graph's first input
    output_name: str | None = None
    precision: str = "fp32"          # fp32 | fp16 | int8 (as declared; backends may refine)
    arch: str | None = None
    model_kind: str | None = None
    manifest: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.name


def check_openvino_ir(p: Path) -> None:
    """An .xml must be well-formed XML under an IR's root element (<net version=...>) before OpenVINO
    sees it.

    OpenVINO offers a file its IR reader declines to every other frontend it has, and the TensorFlow
    frontend then logs "Error parsing text-format tensorflow.GraphDef" to stderr from C++ (issue 27).
    The file is read as a stream of events, nothing kept.
    """
    import xml.etree.ElementTree as ET

    root = None
    try:
        with open(p, "rb") as f:
            for event, elem in ET.iterparse(f, events=("start", "end")):
                if root is None:
                    root = elem
                    if elem.tag != "net" or "version" not in elem.attrib:
                        raise ArtifactError(f"{p}: not an OpenVINO IR (its root element is <{elem.tag[:40]}"
                                            f"{'' if elem.tag != 'net' else ' without a version'}>, an IR's is "
                                            f"<net version=...>)")
                elif event == "end":
                    elem.clear()
    except ET.ParseError as e:
        raise ArtifactError(f"{p}: not an OpenVINO IR (not well-formed XML: {e})") from None
    except OSError as e:
        raise ArtifactError(f"{p}: cannot read it ({e.strerror or e})") from None


def check_onnx_wire(p: Path) -> None:
    """An .onnx must be a protobuf message with a graph (ModelProto field 7) before an engine sees it.

    Walks the top-level fields only (a handful: the graph is skipped by its length), so it costs
    nothing and needs no onnx package. OpenVINO would otherwise offer a damaged file to every
    frontend it has, and its TensorFlow frontend logs parse errors to stderr from C++ (issue 27).
    """
    def varint(f):
        n = shift = 0
        while True:
            b = f.read(1)
            if not b:
                raise EOFError
            n |= (b[0] & 0x7F) << shift
            shift += 7
            if not b[0] & 0x80:
                return n
            if shift > 63:
                raise ValueError("varint too long")

    size = p.stat().st_size
    graph = False
    try:
        with open(p, "rb") as f:
            while f.tell() < size:
                key = varint(f)
                field_no, wire = key >> 3, key & 7
                if field_no == 0 or wire not in (0, 1, 2, 5):
                    raise ValueError(f"bad field at byte {f.tell()}")
                if wire == 0:
                    varint(f)
                else:
                    n = {1: 8, 5: 4}.get(wire) or varint(f)
                    if f.tell() + n > size:
                        raise ValueError("truncated")
                    f.seek(n, 1)
                graph |= field_no == 7 and wire == 2
    except (EOFError, ValueError):
        raise ArtifactError(f"{p}: not an ONNX model (damaged or another kind of file)") from None
    except OSError as e:
        raise ArtifactError(f"{p}: cannot read it ({e.strerror or e})") from None
    if not graph:
        raise ArtifactError(f"{p}: not an ONNX model (no graph in it)")


def load_artifact(path: str | Path) -> Artifact:
    p = Path(path)
    if not p.exists():
        raise ArtifactError(f"{p}: no such model artifact")
    if p.is_dir():
        raise ArtifactError(f"{p}: is a folder; expected a .onnx, .xml, .engine or .safetensors file")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ArtifactError(f"{p}: unknown artifact type '{p.suffix}' (expected one of {', '.join(sorted(FORMATS))})")
    if fmt == "openvino":
        if not p.with_suffix(".bin").exists():
            raise ArtifactError(f"{p}: OpenVINO weights {p.with_suffix('.bin').name} missing beside it")
        check_openvino_ir(p)
    elif fmt == "onnx":
        check_onnx_wire(p)
    doc = read_manifest(p)
    a = Artifact(path=p, format=fmt, manifest=doc)
    s = (doc or {}).get("settings", {}) or {}
    if fmt == "torch":
        a.size_multiple = 0  # filled in by the torch backend from the model
    try:
        if s.get("size_multiple"):
            a.size_multiple = int(s["size_multiple"])
    except (TypeError, ValueError):
        raise ArtifactError(f"{p}: manifest size_multiple {s.get('size_multiple')!r} is not an integer") from None
    if a.size_multiple < 0 or a.size_multiple > 1024:
        raise ArtifactError(f"{p}: manifest size_multiple {a.size_multiple} out of range")
    a.input_name = s.get("input_name") or None
    a.output_name = s.get("output_name") or None
    prec = str(s.get("precision") or "fp32").lower()
    a.precision = prec if prec in ("fp32", "fp16", "int8", "bf16", "mixed") else "fp32"
    a.arch = s.get("arch")
    a.model_kind = s.get("model_kind")
    for k in ("profile", "tensorrt", "gpu", "min_shape", "opt_shape", "max_shape", "int8_target", "cpu_float_precision"):
        if k in s:
            a.extra[k] = s[k]
    return a
