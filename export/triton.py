"""A Triton Inference Server model repository around an exported model.

    REPO/
      hushframe_denoiser/
        config.pbtxt                      backend, dynamic batching, input/output dims
        config.pbtxt.manifest.json        hushframe manifest (kind "triton-repository")
        1/model.onnx | 1/model.xml+model.bin | 1/model.plan

Backends: ``onnxruntime`` (model.onnx), ``openvino`` (model.xml/.bin), ``tensorrt_plan``
(model.plan). The repository is staged in a temp folder beside the target and renamed into
place, so a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from .contract import INPUT_NAME, OUTPUT_NAME, load_onnx_checked, onnx_settings
from .errors import ExportError

BACKENDS = ("onnxruntime", "openvino", "tensorrt_plan")
DEFAULT_NAME = "hushframe_denoiser"


def render_config(name: str, backend: str, max_batch_size: int, settings: dict, instances: int = 1,
                  max_queue_delay_us: int = 2000) -> str:
    kind = "KIND_GPU" if backend == "tensorrt_plan" else "KIND_CPU"
    head = 'platform: "tensorrt_plan"' if backend == "tensorrt_plan" else f'backend: "{backend}"'
    params = "\n".join(
        f'parameters {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in sorted(settings.items())
        if k in ("size_multiple", "model_kind", "precision", "arch", "blind_spot"))
    return f"""name: "{name}"
{head}
max_batch_size: {int(max_batch_size)}
input [
  {{
    name: "{INPUT_NAME}"
    data_type: TYPE_FP32
    dims: [ 3, -1, -1 ]
  }}
]
output [
  {{
    name: "{OUTPUT_NAME}"
    data_type: TYPE_FP32
    dims: [ 3, -1, -1 ]
  }}
]
dynamic_batching {{
  max_queue_delay_microseconds: {int(max_queue_delay_us)}
}}
instance_group [
  {{
    count: {int(instances)}
    kind: {kind}
  }}
]
{params}
"""


# ------------------------------------------------------------------ a small protobuf text-format reader
_TOKEN = re.compile(r'\s*(?:(#[^\n]*)|("(?:[^"\\]|\\.)*")|([{}\[\]:,])|([^\s{}\[\]:,"#]+))')


def parse_pbtxt(text: str) -> dict:
    """Parse protobuf text format into dicts; repeated fields become lists. Enough for Triton configs."""
    toks = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                break
            raise ValueError(f"config.pbtxt: cannot parse near {text[pos:pos + 30]!r}")
        pos = m.end()
        if m.group(1):
            continue
        tok = m.group(2) or m.group(3) or m.group(4)
        if tok is not None:
            toks.append(tok)
    i = 0

    def value(t):
        if t.startswith('"'):
            return bytes(t[1:-1], "utf-8").decode("unicode_escape")
        try:
            return int(t)
        except ValueError:
            try:
                return float(t)
            except ValueError:
                return {"true": True, "false": False}.get(t, t)

    def parse_msg(end):
        nonlocal i
        out: dict = {}
        while i < len(toks) and toks[i] != end:
            key = toks[i]
            i += 1
            if toks[i] == ":":
                i += 1
            if toks[i] == "{":
                i += 1
                v = parse_msg("}")
                i += 1
                vals = [v]
            elif toks[i] == "[":
                i += 1
                vals_list = []
                while toks[i] != "]":
                    if toks[i] == ",":
                        i += 1
                        continue
                    if toks[i] == "{":
                        i += 1
                        vals_list.append(parse_msg("}"))
                        i += 1
                    else:
                        vals_list.append(value(toks[i]))
                        i += 1
                i += 1
                out.setdefault(key, []).extend(vals_list)
                continue
            else:
                vals = [value(toks[i])]
                i += 1
            if key in out:
                if not isinstance(out[key], list):
                    out[key] = [out[key]]
                out[key].extend(vals)
            else:
                out[key] = vals[0]
        return out

    return parse_msg(None)


# ------------------------------------------------------------------ build
def export_triton(model_path: str | Path, repo_dir: str | Path, backend: str = "onnxruntime", *, name: str = DEFAULT_NAME,
                  max_batch_size: int = 8, instances: int = 1, precision: str = "fp32", calibration=None,
                  engine: str | Path | None = None) -> Path:
    """Create a Triton model repository at ``repo_dir`` (must not exist yet) from an exported ONNX model.

    onnxruntime: the ONNX is copied as 1/model.onnx. openvino: compiled to IR (``precision``).
    tensorrt_plan: ``engine`` (a .engine built by ``compile tensorrt`` for the serving GPU) is copied,
    or one is built here if TensorRT and a GPU are present.
    """
    from hushframe.core.atomic import check_output_path
    from hushframe.core.manifest import file_sha256, write_manifest

    if backend not in BACKENDS:
        raise ExportError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ExportError(f"model name {name!r}: use letters, digits, '_', '-', '.'")
    repo = Path(repo_dir)
    check_output_path(repo if not repo.exists() else repo / "x")
    if repo.exists() and (not repo.is_dir() or any(repo.iterdir())):
        raise ExportError(f"{repo}: exists and is not an empty folder; choose a new repository path")
    model = load_onnx_checked(model_path)
    settings = onnx_settings(model, model_path)
    if max_batch_size < 1:
        raise ExportError("--max-batch-size must be at least 1")
    with tempfile.TemporaryDirectory(prefix=f".{repo.name}.", dir=repo.parent if str(repo.parent) else ".") as td:
        stage = Path(td) / "repo"
        mdir = stage / name / "1"
        mdir.mkdir(parents=True)
        if backend == "onnxruntime":
            shutil.copyfile(model_path, mdir / "model.onnx")
            art_precision = settings.get("precision", "fp32")
        elif backend == "openvino":
            from .openvino_ir import compile_openvino

            compile_openvino(model_path, mdir / "model.xml", precision, calibration=calibration, latency_check=False)
            (mdir / "model.xml.manifest.json").unlink(missing_ok=True)
            art_precision = precision
        else:
            if engine is None:
                from .tensorrt_engine import compile_tensorrt

                compile_tensorrt(model_path, mdir / "model.plan", "int8" if settings.get("precision") == "int8" else "fp16",
                                 max_batch=max_batch_size)
                art_precision = "int8" if settings.get("precision") == "int8" else "fp16"
            else:
                shutil.copyfile(engine, mdir / "model.plan")
                art_precision = precision
            for extra in mdir.glob("model.plan.*"):
                extra.unlink()
        cfg = stage / name / "config.pbtxt"
        cfg.write_text(render_config(name, backend, max_batch_size, dict(settings, precision=art_precision), instances))
        write_manifest(cfg, kind="triton-repository", made_by="hushframe export triton",
                       source={"onnx": str(model_path), "sha256": file_sha256(model_path)},
                       settings=dict(settings, precision=art_precision, backend=backend, model_name=name,
                                     max_batch_size=max_batch_size), tools=("onnx",))
        if repo.exists():
            repo.rmdir()
        os.replace(stage, repo)
    return repo


def run_repository(repo_dir: str | Path, x, name: str | None = None):
    """Run a repository's model the way its backend would, with the matching local library (tests, smoke checks)."""
    import numpy as np

    repo = Path(repo_dir)
    names = [name] if name else sorted(p.name for p in repo.iterdir() if (p / "config.pbtxt").exists())
    if not names:
        raise ExportError(f"{repo}: no model with a config.pbtxt")
    mdir = repo / names[0]
    cfg = parse_pbtxt((mdir / "config.pbtxt").read_text())
    backend = cfg.get("backend") or cfg.get("platform")
    in_name = cfg["input"][0]["name"]
    out_name = cfg["output"][0]["name"]
    x = np.asarray(x, np.float32)
    if backend == "onnxruntime":
        from .onnx_export import ort_session

        return ort_session(mdir / "1" / "model.onnx").run([out_name], {in_name: x})[0]
    if backend == "openvino":
        from .openvino_ir import compiled_model

        cm = compiled_model(mdir / "1" / "model.xml")
        return cm({in_name: x})[cm.output(out_name)]
    if backend == "tensorrt_plan":
        raise ExportError(f"{mdir}: running a tensorrt_plan model needs TensorRT and a GPU (use the runtime's TensorRT backend)")
    raise ExportError(f"{mdir}: unknown backend {backend!r}")
