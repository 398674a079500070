"""TensorRT runtime backend and streaming: runs only where `import tensorrt` and CUDA work."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.tensorrt, pytest.mark.gpu]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    try:
        import tensorrt  # noqa: F401
    except Exception as e:
        pytest.skip(f"TensorRT not importable here ({e.__class__.__name__}: {e}); runtime TensorRT tests need tensorrt + an NVIDIA GPU")
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device visible; runtime TensorRT tests need an NVIDIA GPU")
    from hushframe.export.tensorrt_engine import compile_tensorrt
    from hushframe.runtime.testing import export_onnx, tiny_student

    d = tmp_path_factory.mktemp("trt-rt")
    onnx = export_onnx(tiny_student(), d / "s.onnx")
    return onnx, compile_tensorrt(onnx, d / "s.engine", "fp16")


def test_tensorrt_backend_matches_onnxruntime(engine):
    from hushframe.runtime.backends.base import open_backend

    onnx, eng = engine
    x = np.random.default_rng(0).random((2, 3, 64, 96), dtype=np.float32)
    with open_backend(eng, backend="tensorrt") as trt, open_backend(onnx, backend="onnxruntime") as ort:
        assert trt.info.device.startswith("cuda") or "gpu" in trt.info.device.lower()
        np.testing.assert_allclose(trt.infer(x), ort.infer(x), atol=2e-2)  # fp16 engine


def test_stream_through_tensorrt(engine, tmp_path):
    from hushframe.runtime.stream import stream_video
    from hushframe.runtime.testing import read_clip, smooth_frames, write_clip

    _, eng = engine
    clip = write_clip(tmp_path / "in.mp4", smooth_frames(6, 64, 96))
    stats = stream_video(clip, eng, tmp_path / "out.mkv", backend="tensorrt", codec="ffv1")
    frames, _, _ = read_clip(tmp_path / "out.mkv")
    assert len(frames) == 6 and stats.summary()["dropped"] == 0
