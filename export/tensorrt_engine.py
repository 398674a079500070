"""ONNX -> TensorRT engine (FP16, or INT8 from explicit Q/DQ), and a loader that refuses mismatched engines.

Written against the TensorRT 10.x Python API (``tensorrt.Builder``, ``OnnxParser``,
``IOptimizationProfile``, ``ITimingCache``); ``tensorrt`` is imported only inside the
functions that need it. What runs without TensorRT: ``default_profile``, ``profile_covers``,
``unsupported_ops``, ``check_engine_manifest`` and the Q/DQ checks (``qdq.qdq_violations``).
"""

from __future__ import annotations

import json
import subprocess
from importlib import resources
from pathlib import Path

from hushframe.core.contract import check_tensorrt_manifest

from .contract import INPUT_NAME, load_onnx_checked, onnx_settings
from .errors import ExportError

HD_1080P = (1080, 1920)
UHD_4K = (2160, 3840)


def _pad(v: int, m: int) -> int:
    return -(-v // m) * m


def default_profile(size_multiple: int = 32, max_batch: int = 1, opt=(1080, 1920), max_hw=UHD_4K) -> dict:
    """min/opt/max NCHW shapes: from one tile up to 4K (padded), optimized for 1080p."""
    m = size_multiple
    return {
        "min": [1, 3, m, m],
        "opt": [1, 3, _pad(opt[0], m), _pad(opt[1], m)],
        "max": [max_batch, 3, _pad(max_hw[0], m), _pad(max_hw[1], m)],
    }


def profile_covers(profile: dict, height: int, width: int, size_multiple: int = 32, batch: int = 1) -> bool:
    """True if a frame of height x width (padded to the multiple, either orientation not assumed) fits the profile."""
    shape = [batch, 3, _pad(height, size_multiple), _pad(width, size_multiple)]
    return all(lo <= v <= hi for lo, v, hi in zip(profile["min"], shape, profile["max"]))


def supported_ops() -> dict:
    return json.loads(resources.files("hushframe.export").joinpath("tensorrt_onnx_ops.json").read_text())


def unsupported_ops(model) -> list[str]:
    """Op types of ``model`` that the TensorRT 10.x ONNX parser does not list (plus opset range check)."""
    doc = supported_ops()
    ok = set(doc["supported"])
    bad = sorted({n.op_type for n in model.graph.node if n.op_type not in ok or (n.domain not in ("", "ai.onnx"))})
    from .contract import opset_of

    if not doc["opset_min"] <= opset_of(model) <= doc["opset_max"]:
        bad.append(f"opset {opset_of(model)}")
    return bad


# ---------------------------------------------------------------- local GPU / TensorRT identity
def gpu_info(device: int = 0) -> dict:
    """{'name', 'compute_capability'} of the local CUDA GPU, or raises ExportError."""
    try:
        import torch

        if torch.cuda.is_available():
            maj, mnr = torch.cuda.get_device_capability(device)
            return {"name": torch.cuda.get_device_name(device), "compute_capability": f"{maj}.{mnr}"}
    except ImportError:
        pass
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20, check=True).stdout.strip().splitlines()
        name, cc = [s.strip() for s in out[device].split(",")]
        return {"name": name, "compute_capability": cc}
    except (OSError, subprocess.SubprocessError, IndexError, ValueError):
        pass
    raise ExportError("no CUDA GPU found (TensorRT engines are built and run on an NVIDIA GPU)")


def _trt():
    try:
        import tensorrt as trt
    except ImportError as e:
        raise ExportError(f"TensorRT is not installed here ({e}); install hushframe[tensorrt] on a machine with an NVIDIA GPU") from None
    return trt


def check_engine_manifest(manifest: dict, trt_version: str, gpu: dict, engine_path="engine") -> None:
    """Refuse an engine built for another TensorRT version or GPU: the contract's check (core/contract.py),
    done by the runtime backend too, before any engine is deserialized."""
    check_tensorrt_manifest(manifest, trt_version, gpu, engine_path)


# ---------------------------------------------------------------- build / load
def compile_tensorrt(onnx_path: str | Path, out_engine: str | Path, precision: str = "fp16", *, profile: dict | None = None,
                     max_batch: int = 1, timing_cache: str | Path | None = None, workspace_mib: int = 2048) -> Path:
    """Build a serialized engine with one optimization profile; writes ``out_engine`` + manifest atomically.

    precision: fp16, or int8 for a hushframe INT8 Q/DQ ONNX (explicit quantization; FP16 is enabled
    too so the layers kept out of INT8 run in FP16).
    """
    from hushframe.core.atomic import atomic_path, check_output_path
    from hushframe.core.manifest import file_sha256, write_manifest

    from .qdq import qdq_violations

    out_engine = check_output_path(out_engine)
    if precision not in ("fp16", "int8", "fp32"):
        raise ExportError(f"precision {precision!r}: expected fp16 or int8 (fp32 for debugging)")
    model = load_onnx_checked(onnx_path)
    settings = onnx_settings(model, onnx_path)
    is_qdq = any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    if precision == "int8" and not is_qdq:
        raise ExportError(f"{onnx_path}: int8 engines are built from explicit Q/DQ models; run `hushframe quantize --precision int8` first")
    if is_qdq and precision != "int8":
        raise ExportError(f"{onnx_path}: holds Q/DQ nodes; build it with --precision int8")
    bad = qdq_violations(model) + [f"unsupported op {o}" for o in unsupported_ops(model)]
    if bad:
        hint = ""
        if any("uint8" in b for b in bad) and settings.get("int8_target") not in (None, "gpu"):
            hint = f" (quantized for {settings['int8_target']} CPUs; re-quantize with `hushframe quantize --target gpu` for TensorRT)"
        raise ExportError(f"{onnx_path}: not buildable by TensorRT 10: {'; '.join(bad[:4])}{hint}")
    m = int(settings["size_multiple"])
    prof = profile or default_profile(m, max_batch)
    for key in ("min", "opt", "max"):
        if prof[key][2] % m or prof[key][3] % m:
            raise ExportError(f"profile {key} {prof[key]}: height and width must be multiples of {m}")
    trt = _trt()
    gpu = gpu_info()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errs = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise ExportError(f"{onnx_path}: TensorRT ONNX parser failed: {errs[0] if errs else 'unknown error'}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(INPUT_NAME, prof["min"], prof["opt"], prof["max"])
    config.add_optimization_profile(opt_profile)
    cache_path = Path(timing_cache) if timing_cache else out_engine.with_name(out_engine.name + ".timing.cache")
    cache_bytes = cache_path.read_bytes() if cache_path.exists() else b""
    cache = config.create_timing_cache(cache_bytes)
    config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{onnx_path}: TensorRT engine build failed (see the TensorRT log above)")
    with atomic_path(out_engine) as tmp:
        with open(tmp, "wb") as f:
            f.write(memoryview(serialized))
    with atomic_path(cache_path) as tmp:
        with open(tmp, "wb") as f:
            f.write(memoryview(config.get_timing_cache().serialize()))
    write_manifest(out_engine, kind="tensorrt-engine", made_by="hushframe compile tensorrt",
                   source={"onnx": str(onnx_path), "sha256": file_sha256(onnx_path)},
                   settings=dict(settings, precision=precision, tensorrt_version=trt.__version__, gpu_name=gpu["name"],
                                 compute_capability=gpu["compute_capability"], profile=prof,
                                 timing_cache=cache_path.name), tools=("tensorrt",))
    return out_engine


def load_engine(engine_path: str | Path):
    """Deserialize an engine after checking its manifest against the local TensorRT and GPU."""
    from hushframe.core.manifest import file_sha256, read_manifest

    p = Path(engine_path)
    if not p.exists():
        raise ExportError(f"{p}: no such file")
    trt = _trt()
    check_tensorrt_manifest(read_manifest(p), trt.__version__, gpu_info(), p, sha256=file_sha256(p))
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    engine = runtime.deserialize_cuda_engine(p.read_bytes())
    if engine is None:
        raise ExportError(f"{p}: TensorRT could not deserialize the engine")
    return engine
