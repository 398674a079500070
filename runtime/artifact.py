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


def load_artifact(path: str | Path) -> Artifact:
    p = Path(path)
    if not p.exists():
        raise ArtifactError(f"{p}: no such model artifact")
    if p.is_dir():
        raise ArtifactError(f"{p}: is a folder; expected a .onnx, .xml, .engine or .safetensors file")
    fmt = FORMATS.get(p.suffix.lower())
    if fmt is None:
        raise ArtifactError(f"{p}: unknown artifact type '{p.suffix}' (expected one of {', '.join(sorted(FORMATS))})")
    if fmt == "openvino" and not p.with_suffix(".bin").exists():
        raise ArtifactError(f"{p}: OpenVINO weights {p.with_suffix('.bin').name} missing beside it")
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
    for k in ("profile", "tensorrt", "gpu", "min_shape", "opt_shape", "max_shape", "int8_target"):
        if k in s:
            a.extra[k] = s[k]
    return a
