"""Small JSON manifests beside every artifact: what made it, from what, with which settings.

``student.safetensors`` -> ``student.safetensors.manifest.json``; the next step reads it
so the user never repeats a flag. Manifests are plain JSON, loaded with size limits and
type checks because they may come from elsewhere.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
from pathlib import Path

from .atomic import write_json_atomic
from .errors import ManifestError

MANIFEST_SUFFIX = ".manifest.json"
MAX_MANIFEST_BYTES = 1 << 20


def manifest_path(artifact: str | Path) -> Path:
    p = Path(artifact)
    return p.with_name(p.name + MANIFEST_SUFFIX)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def tool_versions(*names: str) -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "hushframe": _version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            pass
    return out


def _version() -> str:
    from . import __version__

    return __version__


def write_manifest(artifact: str | Path, *, kind: str, made_by: str, source: dict | None = None,
                   settings: dict | None = None, extra: dict | None = None, tools: tuple[str, ...] = ()) -> Path:
    artifact = Path(artifact)
    doc = {
        "format": "hushframe-manifest/1",
        "kind": kind,
        "artifact": artifact.name,
        "sha256": file_sha256(artifact),
        "made_by": made_by,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "source": source or {},
        "settings": settings or {},
        "tools": tool_versions(*tools),
    }
    if extra:
        doc.update(extra)
    mp = manifest_path(artifact)
    write_json_atomic(mp, doc)
    return mp


def read_manifest(artifact: str | Path, required: bool = False) -> dict | None:
    mp = manifest_path(artifact)
    if not mp.exists():
        if required:
            raise ManifestError(f"{mp}: manifest missing (was {Path(artifact).name} made by hushframe?)")
        return None
    return load_manifest_file(mp)


def load_manifest_file(mp: str | Path) -> dict:
    mp = Path(mp)
    try:
        if mp.stat().st_size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{mp}: manifest larger than {MAX_MANIFEST_BYTES} bytes")
        doc = json.loads(mp.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{mp}: not a valid JSON manifest ({e.__class__.__name__})") from None
    except OSError as e:
        raise ManifestError(f"{mp}: cannot read manifest ({e.strerror})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
        raise ManifestError(f"{mp}: not a hushframe manifest (no 'kind')")
    for key in ("source", "settings"):
        if key in doc and not isinstance(doc[key], dict):
            raise ManifestError(f"{mp}: '{key}' must be an object")
    return doc
