"""The artifact contract: what export/ writes and runtime/ (and the GStreamer element) reads.

One place for every rule both sides must agree on:

* tensors: one input ``input``, float32 NCHW RGB in [0,1], dynamic N/H/W; one output ``output``
  of the same shape; the keys of the ONNX metadata and of the manifest ``settings``;
* sizes: written WIDTHxHEIGHT everywhere a person types or reads one (``parse_size``); a
  model's ``size_multiple`` (2^levels) is recorded in its metadata and manifest;
* pad/crop: the caller pads H and W at the bottom/right to the multiple (reflect; edge when the
  image is too small to reflect), runs, and crops the output back (``pad_chw``/``crop_hwc``;
  toolkit/models/padding.py is the torch form and uses ``pad_mode``);
* file names: artifact formats, image and video extensions;
* engine policy: OpenVINO's CPU inference precision per artifact precision, and the TensorRT
  manifest checks done before an engine is deserialized.

numpy and the standard library only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ContractError, EngineMismatchError

# ---------------------------------------------------------------- tensors and metadata
INPUT_NAME = "input"
OUTPUT_NAME = "output"
DEFAULT_OPSET = 17
SUPPORTED_OPSETS = tuple(range(17, 22))     # TensorRT 10.x's parser and ORT 1.17+ cover them
PRECISIONS = ("fp32", "fp16", "int8")
CONTRACT_KEYS = ("size_multiple", "input_name", "output_name", "model_kind", "blind_spot", "precision", "arch",
                 "int8_target",  # int8_target: INT8 only, the CPU/GPU kind its recipe is for (quantize --target)
                 "cpu_float_precision")  # INT8 only: bf16 when its float convs may run in bf16 (OpenVINO, CPUs with bf16)
DEFAULT_MULTIPLE = 32                        # an artifact without a manifest: the paper's 5 poolings
INPUT_DESCRIPTION = ("float32 RGB in [0,1], NCHW, dynamic batch/height/width; height and width padded by the "
                     "caller (reflect, bottom/right) to a multiple of size_multiple; output same shape")



def blind_spot_shift(k: int) -> int:
    """A teacher's blind spot k = 2s - 1 (k = 0: none) -> its shift s; ValueError for any other k."""
    if k < 0 or (k != 0 and k % 2 == 0):
        raise ValueError(f"blind spot k must be 0 or a positive odd number, got {k}")
    return (k + 1) // 2


# ---------------------------------------------------------------- file names
FORMATS = {".onnx": "onnx", ".xml": "openvino", ".engine": "tensorrt", ".plan": "tensorrt",
           ".safetensors": "torch"}
IMAGE_EXTS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"})
VIDEO_EXTS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".ts", ".mts", ".mpg", ".mpeg", ".flv",
                        ".nut", ".y4m", ".wmv", ".3gp", ".ogv", ".mxf", ".gif"})


def is_image_name(path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def is_video_name(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS


# ---------------------------------------------------------------- sizes
NAMED_SIZES = {"480p": (480, 854), "720p": (720, 1280), "1080p": (1080, 1920), "4k": (2160, 3840),
               "2160p": (2160, 3840)}


def parse_size(s: str) -> tuple[int, int]:
    """'1920x1080' (WIDTHxHEIGHT, as video people write it) or 480p/720p/1080p/4k -> (h, w).

    Everything a person types or reads is WIDTHxHEIGHT; inside, arrays are (h, w) like numpy.
    """
    key = str(s).strip().lower()
    if key in NAMED_SIZES:
        return NAMED_SIZES[key]
    try:
        w, h = (int(v) for v in key.split("x"))
    except ValueError:
        raise ContractError(f"size '{s}': expected WIDTHxHEIGHT such as 1920x1080, or 720p/1080p/4k") from None
    if w <= 0 or h <= 0:
        raise ContractError(f"size '{s}': width and height must be positive")
    return h, w


def format_size(h: int, w: int) -> str:
    """(h, w) -> 'WIDTHxHEIGHT'."""
    return f"{w}x{h}"


# ---------------------------------------------------------------- pad / crop
def padded_size(h: int, w: int, multiple: int, min_hw: tuple[int, int] = (1, 1)) -> tuple[int, int]:
    m = max(1, int(multiple or 1))
    ph, pw = max(h, min_hw[0]), max(w, min_hw[1])
    return ph + (-ph) % m, pw + (-pw) % m


def pad_mode(h: int, w: int, ph: int, pw: int) -> str:
    """'reflect' (the protocol of the published figures), or 'edge' when the image is too small to reflect."""
    return "reflect" if ph < h and pw < w else "edge"


def pad_chw(x: np.ndarray, th: int, tw: int) -> np.ndarray:
    """Pad ...xHxW at the bottom/right to th x tw."""
    h, w = x.shape[-2:]
    ph, pw = th - h, tw - w
    if ph == 0 and pw == 0:
        return x
    pad = [(0, 0)] * (x.ndim - 2) + [(0, ph), (0, pw)]
    return np.pad(x, pad, mode=pad_mode(h, w, ph, pw))


def crop_chw(y: np.ndarray, h: int, w: int) -> np.ndarray:
    """The output of a padded input, cropped back to h x w (top-left: padding is bottom/right)."""
    return y[..., :h, :w]


# ---------------------------------------------------------------- engine policy
def openvino_cpu_precision_hint(precision: str, float_precision: str | None = None, cpu_has_bf16: bool = False) -> str | None:
    """INFERENCE_PRECISION_HINT for OpenVINO's CPU plugin, from the artifact's precision.

    The plugin runs fp32 layers in bf16 by default on CPUs with AVX512-BF16/AMX (about 2x faster,
    ~0.01 dB off): fp32 and int8 artifacts pin f32 (int8 layers stay int8), so the figures match
    the PyTorch reference; fp16 IRs keep the plugin's default (bf16 where available, else f32:
    CPUs without AVX512-FP16/AMX-FP16 have no fp16 compute). An INT8 artifact whose recipe says its
    float convs may run in bf16 (settings ``cpu_float_precision``, ``quantize --target amx``) gets
    bf16 on a CPU that has it (``cpu_has_bf16``): its recipe was measured that way. Used by `compile
    openvino` (latency check) and by the runtime backend alike.
    """
    if precision == "fp16":
        return None
    if precision == "int8" and float_precision == "bf16" and cpu_has_bf16:
        return "bf16"
    return "f32"


TENSORRT_ENGINE_KIND = "tensorrt-engine"


def check_tensorrt_manifest(manifest: dict | None, trt_version: str, gpu: dict, engine_path="engine",
                            sha256: str | None = None) -> None:
    """Refuse an engine before deserializing it: engines are not portable across TensorRT versions or GPUs.

    ``gpu``: {"name": ..., "compute_capability": "8.9"} of this machine; ``sha256``: the file's digest
    when the caller computed it (checked against the manifest's).
    """
    if not manifest:
        raise EngineMismatchError(f"{engine_path}: manifest missing ({Path(str(engine_path)).name}.manifest.json); "
                                  f"build engines with `hushframe compile tensorrt`")
    if manifest.get("kind", TENSORRT_ENGINE_KIND) != TENSORRT_ENGINE_KIND:
        raise EngineMismatchError(f"{engine_path}: manifest kind is {manifest.get('kind')!r}, not a TensorRT engine")
    if sha256 is not None and manifest.get("sha256") and manifest["sha256"] != sha256:
        raise EngineMismatchError(f"{engine_path}: file does not match its manifest (sha256 differs); rebuild it")
    s = manifest.get("settings", {}) or {}
    built_trt, built_gpu, built_cc = s.get("tensorrt_version"), s.get("gpu_name"), s.get("compute_capability")
    if built_trt is None or built_gpu is None or built_cc is None:
        raise EngineMismatchError(f"{engine_path}: manifest lacks tensorrt_version/gpu_name/compute_capability; "
                                  f"rebuild it with `hushframe compile tensorrt`")
    if str(built_trt) != str(trt_version):
        raise EngineMismatchError(f"{engine_path}: built with TensorRT {built_trt}, this machine has TensorRT "
                                  f"{trt_version}; rebuild it here with `hushframe compile tensorrt`")
    if str(built_cc) != str(gpu.get("compute_capability")) or str(built_gpu) != str(gpu.get("name")):
        raise EngineMismatchError(f"{engine_path}: built for {built_gpu} (compute capability {built_cc}), this "
                                  f"machine has {gpu.get('name')} (compute capability "
                                  f"{gpu.get('compute_capability')}); rebuild it here")
