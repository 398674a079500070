"""TensorRT engine build and load: runs only where `import tensorrt` and CUDA work.

The checks that run everywhere (parser op list, symmetric Q/DQ, profile covering 1080p/4K,
manifest mismatch) are in test_export.py.
"""

from __future__ import annotations

import json

import pytest

pytestmark = [pytest.mark.tensorrt, pytest.mark.gpu]


@pytest.fixture(scope="module")
def trt():
    try:
        import tensorrt
    except Exception as e:  # ImportError, or a broken CUDA install
        pytest.skip(f"TensorRT not importable here ({e.__class__.__name__}: {e}); engine tests need tensorrt + an NVIDIA GPU")
    try:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no CUDA device visible to torch; TensorRT engine tests need an NVIDIA GPU")
    except ImportError:
        pass
    return tensorrt


@pytest.fixture(scope="module")
def student_onnx(tmp_path_factory):
    from hushframe.export.onnx_export import export_onnx
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    d = tmp_path_factory.mktemp("trt")
    w = save_model(create_model("student_c", width=8), d / "s.safetensors")
    return export_onnx(w, d / "s.onnx")


@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_build_and_load_engine(trt, student_onnx, precision, tmp_path):
    import numpy as np
    from PIL import Image

    from hushframe.export.quantize import quantize
    from hushframe.export.tensorrt_engine import compile_tensorrt, load_engine, profile_covers
    from hushframe.core.manifest import read_manifest

    src = student_onnx
    if precision == "int8":
        cal = tmp_path / "cal"
        cal.mkdir()
        for i in range(2):
            Image.fromarray((np.random.default_rng(i).random((96, 96, 3)) * 255).astype(np.uint8)).save(cal / f"{i}.png")
        src = quantize(student_onnx, tmp_path / "s-int8.onnx", "int8", cal, crop_size=64)
    eng = compile_tensorrt(src, tmp_path / f"s-{precision}.engine", precision)
    man = read_manifest(eng, required=True)
    s = man["settings"]
    assert s["tensorrt_version"] == trt.__version__ and s["gpu_name"] and s["compute_capability"]
    assert profile_covers(s["profile"], 1080, 1920) and profile_covers(s["profile"], 2160, 3840)
    assert (tmp_path / f"s-{precision}.engine.timing.cache").exists()
    assert load_engine(eng) is not None
    # A manifest from another TensorRT version is refused with a clear message.
    mp = eng.with_name(eng.name + ".manifest.json")
    doc = json.loads(mp.read_text())
    doc["settings"]["tensorrt_version"] = "0.0.1"
    mp.write_text(json.dumps(doc))
    from hushframe.export.errors import EngineMismatchError

    with pytest.raises(EngineMismatchError, match="TensorRT 0.0.1"):
        load_engine(eng)
