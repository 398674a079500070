"""FFmpeg's dnn_processing filter runs our exported ONNX / OpenVINO IR as they are.

The contract FFmpeg expects from a frame-to-frame model (doc/filters.texi, dnn_processing): one
float32 input and one float32 output, NCHW RGB, batch 1, any height and width (FFmpeg feeds the
frame's own size), values in [0,1] (it scales rgb24 by 1/255 on the way in and x255 on the way
out). The contract test runs everywhere; the filter itself only where the local FFmpeg was
built with the backend (``ffmpeg -h filter=dnn_processing`` lists it), else it skips with why.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from hushframe.runtime import testing as T


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Student C (small width) through the real exporter: simplified, checked, with its manifest."""
    pytest.importorskip("onnx")
    from hushframe.export.onnx_export import export_module

    d = tmp_path_factory.mktemp("ffmpeg_dnn")
    return export_module(T.tiny_student(seed=0), "student", d / "student.onnx", verify=False)


def test_exported_onnx_meets_dnn_processing_contract(exported):
    import onnx
    import onnxruntime as ort

    m = onnx.load(str(exported))
    inits = {i.name for i in m.graph.initializer}
    inputs = [i for i in m.graph.input if i.name not in inits]
    assert [i.name for i in inputs] == ["input"] and [o.name for o in m.graph.output] == ["output"]
    for v in (inputs[0], m.graph.output[0]):
        t = v.type.tensor_type
        assert t.elem_type == onnx.TensorProto.FLOAT
        dims = t.shape.dim
        assert len(dims) == 4 and dims[1].dim_value == 3                    # NCHW, RGB
        assert dims[0].dim_param or dims[0].dim_value == 1                  # batch 1 accepted
        assert dims[2].dim_param and dims[3].dim_param                      # dynamic H and W
    sess = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    for h, w in ((64, 96), (96, 32)):                                       # any multiple of 32
        (y,) = sess.run(["output"], {"input": np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)})
        assert y.shape == (1, 3, h, w) and y.dtype == np.float32


def _ffmpeg_backends() -> tuple[set[str], str]:
    exe = shutil.which("ffmpeg")
    if exe is None:
        return set(), "ffmpeg not installed"
    out = subprocess.run([exe, "-hide_banner", "-h", "filter=dnn_processing"], capture_output=True, text=True,
                         timeout=60).stdout
    if "dnn_backend" not in out:
        return set(), "this ffmpeg has no dnn_processing filter"
    block = out.split("dnn_backend", 1)[1].split("model ", 1)[0]
    names = set(re.findall(r"^\s+(\w+)\s+\d+\s", block, re.M))
    version = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=60).stdout.split("\n")[0]
    return names, f"{version}; dnn_processing backends: {', '.join(sorted(names)) or 'none'}"


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_ffmpeg_dnn_processing_runs_our_model(exported, tmp_path, backend):
    names, what = _ffmpeg_backends()
    if backend not in names:
        pytest.skip(f"local FFmpeg cannot run dnn_backend={backend} ({what})")
    from PIL import Image

    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.ffmpeg_dnn import dnn_processing_filter
    from hushframe.runtime.frames import denoise_image
    from hushframe.core.images import write_image

    model = exported
    if backend == "openvino":
        pytest.importorskip("openvino")
        model = T.export_openvino(exported, tmp_path / "student.xml")
    img = T.smooth_frames(1, 50, 70, seed=3)[0]                             # padded to 96x64 and cropped back
    write_image(tmp_path / "in.png", img)
    vf = dnn_processing_filter(str(model), 70, 50, backend=backend)
    r = subprocess.run(["ffmpeg", "-hide_banner", "-y", "-i", str(tmp_path / "in.png"), "-vf", vf, "-frames:v", "1",
                        str(tmp_path / "out.png")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    got = np.asarray(Image.open(tmp_path / "out.png").convert("RGB")).astype(int)
    with open_backend(exported, backend="onnxruntime") as be:
        want = denoise_image(be, img)
    assert np.abs(got - want).max() <= 1                                    # FFmpeg may truncate, we round


def test_ffmpeg_padding_chain_equals_runtime_padding(tmp_path):
    """The documented chain pads like the runtime (reflect at the bottom/right), checked with the local
    FFmpeg up to the dnn_processing step (which needs a backend this FFmpeg may lack)."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not installed")
    from PIL import Image

    from hushframe.runtime.ffmpeg_dnn import dnn_processing_filter
    from hushframe.runtime.frames import pad_chw, to_chw
    from hushframe.core.images import write_image

    vf = dnn_processing_filter("student.onnx", 70, 50)
    assert vf.endswith(",crop=70:50:0:0") and "dnn_processing=dnn_backend=onnx:model=student.onnx:input=input:output=output" in vf
    img = T.smooth_frames(1, 50, 70, seed=1)[0]
    write_image(tmp_path / "in.png", img)
    r = subprocess.run(["ffmpeg", "-hide_banner", "-y", "-i", str(tmp_path / "in.png"), "-vf", vf.split(",dnn_processing")[0],
                        str(tmp_path / "padded.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-1500:]
    got = np.asarray(Image.open(tmp_path / "padded.png").convert("RGB"))
    want = np.rint(np.moveaxis(pad_chw(to_chw(img), 64, 96), 0, -1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(got, want)
