"""Where an artifact came from, read from the manifests: student-int8.xml <- student-int8.onnx <-
student.onnx <- student.safetensors. ``hushframe parity`` takes its reference from here when none
is given (the README's rule: the next step needs no flags repeated).

Each manifest names its source file (``source.onnx`` or ``source.weights``) and its SHA-256. A
source is used only if it is still the file the artifact was made from (same hash): a retrained
student under the same name is not the reference of an old export.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hushframe.core.errors import ManifestError
from hushframe.core.manifest import file_sha256, read_manifest

SOURCE_KEYS = ("onnx", "weights")   # what export / quantize / compile record as their input
MAX_DEPTH = 8


@dataclass
class Lineage:
    chain: list[Path]                                # the artifact first, then its sources, nearest first
    stopped: str = ""                                # why the walk ended early ("" at a file with no source)
    precisions: dict = field(default_factory=dict)   # path -> precision recorded in its manifest

    def shown(self) -> str:
        return " <- ".join(p.name for p in self.chain)


def _resolve(recorded: str, made: Path) -> Path | None:
    """A source path as the manifest wrote it (relative to where the command ran), else beside the artifact."""
    p = Path(recorded)
    for cand in (p, made.parent / p, made.parent / p.name):
        if cand.is_file():
            return cand
    return None


def lineage(artifact: str | Path) -> Lineage:
    out = Lineage([Path(artifact)])
    seen = {Path(artifact).resolve()}
    while len(out.chain) <= MAX_DEPTH:
        here = out.chain[-1]
        try:
            doc = read_manifest(here) or {}
        except ManifestError as e:
            out.stopped = str(e)
            break
        out.precisions[here] = str((doc.get("settings") or {}).get("precision") or "fp32").lower()
        src = doc.get("source") or {}
        key = next((k for k in SOURCE_KEYS if src.get(k)), None)
        if key is None:
            break
        found = _resolve(str(src[key]), here)
        if found is None:
            out.stopped = f"{src[key]} (the source of {here.name}) is missing"
            break
        if src.get("sha256") and file_sha256(found) != src["sha256"]:
            out.stopped = f"{found} changed since {here.name} was made from it"
            break
        if found.resolve() in seen:
            out.stopped = f"{found}: the manifests go round in a circle"
            break
        seen.add(found.resolve())
        out.chain.append(found)
    return out


def find_reference(artifact: str | Path, torch_available: bool | None = None) -> tuple[Path | None, Lineage]:
    """The fp32 model ``artifact`` was made from: its .safetensors where torch is installed (the
    PyTorch FP32 reference), else the fp32 .onnx it was exported to; None if the manifests do not lead
    to one (``Lineage.stopped`` says why)."""
    if torch_available is None:
        import importlib.util

        torch_available = importlib.util.find_spec("torch") is not None
    lin = lineage(artifact)
    sources = lin.chain[1:]
    weights = [p for p in sources if p.suffix.lower() == ".safetensors"]
    fp32_onnx = [p for p in sources if p.suffix.lower() == ".onnx" and lin.precisions.get(p, "fp32") == "fp32"]
    if torch_available and weights:
        return weights[0], lin
    if fp32_onnx:
        return fp32_onnx[0], lin
    return None, lin
