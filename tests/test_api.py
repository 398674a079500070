"""The Python API (issue 27): ``from hushframe import Denoiser``.

Its frames equal what the real ``hushframe stream`` writes losslessly (PNG frames, FFV1), wrong inputs
are one clear error, ``import hushframe`` stays light, and README's "Python API" example runs as written.
Real ONNX Runtime / OpenVINO / PyAV on a tiny model; no mocks.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hushframe.runtime import testing as T

ROOT = Path(__file__).resolve().parents[1]
HF = [sys.executable, "-m", "hushframe.toolkit.cli.main"]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from hushframe.export.onnx_export import export_onnx
    from hushframe.toolkit.weights import save_model

    d = tmp_path_factory.mktemp("api")
    save_model(T.tiny_student(seed=1), d / "tiny.safetensors")
    export_onnx(d / "tiny.safetensors", d / "tiny.onnx")
    T.export_openvino(d / "tiny.onnx", d / "tiny.xml")
    T.write_clip(d / "clip.mp4", T.smooth_frames(5, 70, 90, seed=2), fps=10)     # odd size: padded and cropped
    return d


def _decoded(path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def _stream(*args):
    r = subprocess.run(HF + ["stream", *map(str, args), "--progress", "none"], capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stderr
    return r


def test_version_and_a_light_import():
    from importlib import metadata

    import hushframe
    from hushframe.toolkit import __version__ as cli_version

    assert hushframe.__version__ == metadata.version("hushframe") == cli_version
    r = subprocess.run([sys.executable, "-c", "import sys, hushframe; print(sorted(m for m in ('numpy', 'torch', "
                        "'onnxruntime', 'openvino') if m in sys.modules)); print(hushframe.Denoiser.__name__)"],
                       capture_output=True, text=True)
    assert r.stdout.split("\n")[:2] == ["[]", "Denoiser"], r.stdout + r.stderr


@pytest.mark.parametrize("model", ["tiny.xml", "tiny.onnx"])
def test_frames_equal_hushframe_stream(assets, tmp_path, model):
    """d.run(frames) against the real `hushframe stream` written losslessly: PNG frames and FFV1."""
    from hushframe import Denoiser
    from hushframe.core.images import read_uint8

    _stream(assets / "clip.mp4", "-m", assets / model, "-o", tmp_path / "png")
    _stream(assets / "clip.mp4", "-m", assets / model, "-o", tmp_path / "out.mkv", "--codec", "ffv1")
    pngs = [read_uint8(p) for p in sorted((tmp_path / "png").glob("*.png"))]
    ffv1 = _decoded(tmp_path / "out.mkv")
    with Denoiser(assets / model, backend="auto") as d:
        assert d.info.backend == ("openvino" if model.endswith(".xml") else "onnxruntime")
        outs = list(d.run(iter(_decoded(assets / "clip.mp4"))))
        single = d(_decoded(assets / "clip.mp4")[2])
    assert len(outs) == len(pngs) == len(ffv1) == 5
    for o, p, f in zip(outs, pngs, ffv1):
        assert o.dtype == np.uint8 and o.shape == (70, 90, 3)
        assert np.abs(o.astype(int) - p).max() <= 1 and np.abs(o.astype(int) - f).max() <= 1
    np.testing.assert_array_equal(single, outs[2])


def test_tiled_frames_equal_stream_tile(assets, tmp_path):
    from hushframe import Denoiser
    from hushframe.core.images import read_uint8

    _stream(assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", tmp_path / "png", "--tile", "64x64")
    with Denoiser(assets / "tiny.onnx", tile="64x64") as d:
        outs = list(d.run(_decoded(assets / "clip.mp4")))
    for o, p in zip(outs, sorted((tmp_path / "png").glob("*.png"))):
        assert np.abs(o.astype(int) - read_uint8(p)).max() <= 1


def test_run_options_as_everywhere(assets):
    """The Denoiser takes the RunOptions every runner takes (or its fields as keywords)."""
    from hushframe import Denoiser
    from hushframe.runtime.options import RunOptions, RunOptionsError

    with Denoiser(assets / "tiny.onnx", RunOptions(backend="openvino", threads=1)) as d:
        assert d.info.backend == "openvino" and d.options.threads == 1
    with pytest.raises(RunOptionsError, match="tile"):
        Denoiser(assets / "tiny.onnx", tile="big")


def test_wrong_frames_are_one_clear_error(assets):
    from hushframe import Denoiser, FrameError
    from hushframe.core.errors import HushframeError

    good = T.smooth_frames(1, 40, 48, seed=3)[0]
    cases = {
        "float32 array of shape (40, 48, 3)": good.astype(np.float32) / 255,     # never back near-black
        "float64 array of shape (40, 48, 3)": good / 255.0,
        "channels-first": np.ascontiguousarray(good.transpose(2, 0, 1)),
        "4 channels": np.dstack([good, good[..., :1]]),
        "grey": good[..., 0],
        "uint16 array": good.astype(np.uint16) * 257,
        "shape (2, 40, 48, 3)": np.stack([good, good]),
    }
    with Denoiser(assets / "tiny.onnx") as d:
        for words, frame in cases.items():
            with pytest.raises(FrameError) as e:
                d(frame)
            msg = str(e.value)
            assert words in msg and "\n" not in msg and isinstance(e.value, HushframeError), msg
            assert str(tuple(frame.shape)) in msg, msg
        assert d(good).shape == good.shape   # still usable after the refusals
        d.reset()


def test_closed_denoiser_and_missing_model(assets, tmp_path):
    from hushframe import Denoiser
    from hushframe.core.errors import HushframeError

    d = Denoiser(assets / "tiny.onnx")
    d.close()
    with pytest.raises(RuntimeError, match="closed"):
        d(T.smooth_frames(1, 8, 8)[0])
    with pytest.raises(HushframeError, match="no such model artifact"):
        Denoiser(tmp_path / "missing.xml")


def test_readme_python_api_example_runs(assets, tmp_path, monkeypatch):
    """The README's example, as written, in a folder holding the files it names."""
    from PIL import Image

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    for f in ("tiny.xml", "tiny.bin", "tiny.xml.manifest.json"):
        shutil.copy(assets / f, tmp_path / f.replace("tiny", "student-int8"))
    shutil.copy(assets / "clip.mp4", tmp_path / "clip.mp4")
    Image.fromarray(T.smooth_frames(1, 45, 61, seed=4)[0]).save(tmp_path / "photo.png")
    monkeypatch.chdir(tmp_path)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "5 (70, 90, 3) uint8", r.stdout
    assert (tmp_path / "photo-clean.png").exists()
