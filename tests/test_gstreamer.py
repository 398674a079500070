"""The ``hushframe`` GStreamer element through real gst-launch-1.0 pipelines, checked against
``hushframe stream`` on the same frames; plus its frame engine (NV12 inside the OpenVINO graph
vs numpy) without GStreamer.

Pipelines use a private registry (GST_REGISTRY in a temp folder) so that a user's registry
cache is never touched, and threads=1 on both sides (identical engine settings).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest

from conftest import default_sigint
from hushframe.runtime import testing as T

GST_TOOLS = ("gst-launch-1.0", "gst-inspect-1.0")
APT = ("gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-gst-1.0 "
       "gstreamer1.0-python3-plugin-loader")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    pytest.importorskip("openvino")
    d = tmp_path_factory.mktemp("gst_assets")
    T.export_onnx(T.tiny_student(seed=0), d / "tiny.onnx")
    T.export_openvino(d / "tiny.onnx", d / "tiny.xml")
    # the blur net: a real, non-saturating picture out (tiling seams and colour errors would show)
    T.export_onnx(T.blur_net(), d / "blur.onnx")
    T.export_openvino(d / "blur.onnx", d / "blur.xml")
    return d


@pytest.fixture(scope="module")
def gst_env(tmp_path_factory):
    missing = [t for t in GST_TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (Debian: apt-get install {APT})")
    from hushframe.runtime.gstreamer.cli import inspect_element
    from hushframe.runtime.gstreamer.plugin import gst_env as environment, plugin_path

    reg = tmp_path_factory.mktemp("gst_registry") / "registry.bin"
    env = environment(GST_REGISTRY=str(reg), GST_PLUGIN_PATH=str(plugin_path()))
    old = os.environ.get("GST_REGISTRY")
    os.environ["GST_REGISTRY"] = str(reg)
    try:
        ok, why = inspect_element(plugin_path())
    finally:
        os.environ.pop("GST_REGISTRY") if old is None else os.environ.__setitem__("GST_REGISTRY", old)
    if not ok:
        pytest.skip(f"GStreamer cannot load the hushframe element here: {why}")
    return env


def launch(env, pipeline: str, *, messages=False, timeout=180) -> subprocess.CompletedProcess:
    args = ["gst-launch-1.0"] + (["-m"] if messages else ["-q"]) + pipeline.split()
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def stats_of(out: str) -> dict:
    line = next(ln for ln in out.splitlines() if "hushframe-stats" in ln)
    return {k: v for k, v in (p.split("=(int)") for p in line.split(", ") if "=(int)" in p)}


def write_pngs(folder, frames):
    from hushframe.core.images import write_image

    folder.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        write_image(folder / f"{i:03d}.png", f)
    return folder


def read_pngs(folder) -> list[np.ndarray]:
    from PIL import Image

    return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*.png"))]


def stream_pngs(src, model, out, **kw):
    from hushframe.runtime.stream import stream_video

    stream_video(str(src), str(model), str(out), threads=1, **kw)
    return read_pngs(out)


def png_pipeline(src, out, element: str) -> str:
    return (f"multifilesrc location={src}/%03d.png index=0 caps=image/png,framerate=10/1 ! pngdec ! videoconvert ! "
            f"video/x-raw,format=RGB ! {element} ! pngenc ! multifilesink location={out}/%03d.png")


# ---------------------------------------------------------------------------- the element in gst-launch
def test_inspect_lists_element_and_properties(gst_env):
    r = subprocess.run(["gst-inspect-1.0", "hushframe"], env=gst_env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    for prop in ("model", "backend", "device", "tile", "overlap", "threads"):
        assert f"  {prop} " in r.stdout, prop
    for fmt in ("RGB", "BGR", "NV12", "I420"):
        assert fmt in r.stdout


def test_cli_plugin_path(gst_env):
    r = subprocess.run(["hushframe", "gstreamer", "--plugin-path"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == gst_env["GST_PLUGIN_PATH"]
    assert os.path.isfile(os.path.join(r.stdout.strip(), "python", "hushframe_gst.py"))


@pytest.mark.parametrize("activated", [False, True])
def test_element_loads_with_the_venv_activated_or_not(gst_env, tmp_path, activated):
    """GStreamer's embedded Python adopts a venv whose python3 is first on PATH (then it needs the
    .pth for the system's gi), else the system's (then it needs the plugin stub's site dirs)."""
    import sys

    venv_bin = os.path.dirname(sys.executable)
    if activated and sys.prefix == sys.base_prefix:
        pytest.skip("the tests do not run in a virtual environment")
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d and os.path.abspath(d) != venv_bin]
    env = dict(gst_env, PATH=os.pathsep.join(([venv_bin] if activated else []) + path),
               GST_REGISTRY=str(tmp_path / "registry.bin"))
    env.pop("VIRTUAL_ENV", None)
    r = subprocess.run(["gst-inspect-1.0", "hushframe"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "hushframe denoiser" in r.stdout, r.stdout[-500:] + r.stderr[-1500:]


@pytest.mark.parametrize("fmt", ["NV12", "RGB"])
def test_videotestsrc_writes_all_frames(gst_env, assets, tmp_path, fmt):
    out = tmp_path / "out.y4m"
    r = launch(gst_env, f"videotestsrc num-buffers=12 ! video/x-raw,format={fmt},width=320,height=192 ! "
                        f"hushframe model={assets / 'tiny.xml'} threads=1 ! videoconvert ! y4menc ! filesink location={out}")
    assert r.returncode == 0, r.stderr
    assert out.read_bytes().count(b"FRAME") == 12


def test_rgb_odd_size_equals_stream(gst_env, assets, tmp_path):
    """97x61 RGB (rows padded to 292 bytes by GStreamer; the engine pads to 128x64): bit-identical to stream."""
    src = write_pngs(tmp_path / "in", T.smooth_frames(3, 61, 97, seed=5))
    (tmp_path / "gst").mkdir()
    r = launch(gst_env, png_pipeline(src, tmp_path / "gst", f"hushframe model={assets / 'blur.xml'} threads=1"))
    assert r.returncode == 0, r.stderr
    got = read_pngs(tmp_path / "gst")
    want = stream_pngs(src, assets / "blur.xml", tmp_path / "ref")
    assert len(got) == len(want) == 3
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_bgr_tiled_equals_stream(gst_env, assets, tmp_path):
    """tile=64x64 overlap=16 on a 150x100 BGR frame: the runtime's tiling, same output as stream --tile."""
    src = write_pngs(tmp_path / "in", T.smooth_frames(2, 100, 150, seed=6))
    (tmp_path / "gst").mkdir()
    el = (f"videoconvert ! video/x-raw,format=BGR ! hushframe model={assets / 'blur.xml'} threads=1 tile=64x64 "
          f"overlap=16 ! videoconvert ! video/x-raw,format=RGB")
    r = launch(gst_env, png_pipeline(src, tmp_path / "gst", el))
    assert r.returncode == 0, r.stderr
    want = stream_pngs(src, assets / "blur.xml", tmp_path / "ref", tile=(64, 64), overlap=16)
    got = read_pngs(tmp_path / "gst")
    assert len(got) == 2
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _read_nv12(path, h, w):
    """Raw NV12 frames as GStreamer lays them out by default: rows padded to 4 bytes, the UV plane
    after an even number of Y rows."""
    from hushframe.runtime.gstreamer.yuv import chroma_size

    ch, cw = chroma_size(h, w)
    sy, suv = (w + 3) // 4 * 4, (2 * cw + 3) // 4 * 4
    off = sy * 2 * ch
    size = off + suv * ch
    raw = np.frombuffer(path.read_bytes(), np.uint8)
    assert raw.size % size == 0
    out = []
    for k in range(raw.size // size):
        f = raw[k * size:(k + 1) * size]
        y = f[:sy * h].reshape(h, sy)[:, :w]
        uv = f[off:].reshape(ch, suv)[:, :2 * cw].reshape(ch, cw, 2)
        out.append((y, uv))
    return out


@pytest.mark.parametrize("h,w", [(118, 200), (61, 97)])
def test_nv12_equals_stream(gst_env, assets, tmp_path, h, w):
    """NV12 200x118 and 97x61 (odd: chroma 49x31, rows padded to 4 bytes; the engine graph pads to
    224x128 / 128x64) against stream on the same frames: the NV12 input read as RGB (BT.601
    limited, as the caps say), streamed, converted back."""
    from hushframe.runtime.frames import to_chw
    from hushframe.runtime.gstreamer.yuv import ColorSpace, chw_to_yuv420, yuv420_to_chw

    src = write_pngs(tmp_path / "in", T.smooth_frames(3, h, w, seed=7))
    r = launch(gst_env, f"multifilesrc location={src}/%03d.png index=0 caps=image/png,framerate=10/1 ! pngdec ! "
                        f"videoconvert ! video/x-raw,format=NV12,colorimetry=bt601 ! tee name=t ! queue ! "
                        f"filesink location={tmp_path / 'in.nv12'} t. ! queue ! hushframe model={assets / 'blur.xml'} "
                        f"threads=1 ! filesink location={tmp_path / 'out.nv12'}")
    assert r.returncode == 0, r.stderr
    frames_in, frames_out = _read_nv12(tmp_path / "in.nv12", h, w), _read_nv12(tmp_path / "out.nv12", h, w)
    assert len(frames_in) == len(frames_out) == 3
    cs = ColorSpace.named("bt601")
    rgb_in = [np.rint(np.moveaxis(yuv420_to_chw(y, uv[..., 0], uv[..., 1], cs), 0, -1) * 255).astype(np.uint8)
              for y, uv in frames_in]
    want = stream_pngs(write_pngs(tmp_path / "seen", rgb_in), assets / "blur.xml", tmp_path / "ref")
    for (y, uv), ref in zip(frames_out, want):
        ry, ru, rv = chw_to_yuv420(to_chw(ref), cs)
        # stream rounds to uint8 RGB on the way in and out; the engine graph stays in float
        for got, exp in ((y, ry), (uv[..., 0], ru), (uv[..., 1], rv)):
            d = np.abs(got.astype(int) - exp)
            assert d.max() <= 2 and d.mean() < 0.5, (d.max(), d.mean())


def test_eos_mid_stream(gst_env, assets, tmp_path):
    """A live source stopped by Ctrl-C with -e: EOS reaches the element mid-stream, every frame it
    took is written and the file ends cleanly."""
    out = tmp_path / "out.y4m"
    args = ["gst-launch-1.0", "-e", "-m"] + (
        f"videotestsrc is-live=true ! video/x-raw,format=NV12,width=96,height=64,framerate=30/1 ! "
        f"hushframe model={assets / 'tiny.xml'} threads=1 ! videoconvert ! y4menc ! filesink location={out}").split()
    p = subprocess.Popen(args, env=gst_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    t0 = time.time()
    while time.time() - t0 < 120 and (not out.exists() or out.read_bytes().count(b"FRAME") < 3):
        time.sleep(0.2)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 0, stderr
    n = int(stats_of(stdout)["frames"])
    assert n >= 3
    assert out.read_bytes().count(b"FRAME") == n


def test_bad_model_path_one_clear_error(gst_env, tmp_path):
    bad = tmp_path / "missing.xml"
    r = launch(gst_env, f"videotestsrc num-buffers=2 ! video/x-raw,format=RGB,width=64,height=64 ! "
                        f"hushframe model={bad} ! fakesink")
    assert r.returncode != 0
    errors = [ln for ln in (r.stdout + r.stderr).splitlines() if ln.startswith("ERROR: from element")]
    assert len(errors) == 1 and errors[0].endswith(f"{bad}: no such model artifact"), r.stdout + r.stderr
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------------------- the frame engine, no GStreamer
def _nv12_planes(img, cs):
    from hushframe.runtime.frames import to_chw
    from hushframe.runtime.gstreamer.yuv import chw_to_yuv420

    y, u, v = chw_to_yuv420(to_chw(img), cs)
    return [y, np.stack([u, v], -1)]


@pytest.mark.parametrize("h,w,matrix,full", [(62, 96, "bt601", False), (45, 67, "bt709", True)])
def test_engine_nv12_graph_equals_numpy(assets, h, w, matrix, full):
    """The conversion inside the OpenVINO graph gives the numpy path's planes (odd sizes included)."""
    from hushframe.runtime.gstreamer.engine import FrameEngine
    from hushframe.runtime.gstreamer.yuv import ColorSpace

    cs = ColorSpace.named(matrix, full)
    img = T.smooth_frames(1, h, w, seed=2)[0]
    outs = {}
    for conv in ("auto", "numpy"):
        e = FrameEngine(assets / "blur.xml", threads=1, convert=conv)
        try:
            outs[conv] = (e.configure("NV12", h, w, cs), _nv12_planes(img, cs))
            e.process(outs[conv][1])
        finally:
            e.close()
    assert outs["auto"][0] == "engine" and outs["numpy"][0] == "numpy"
    for a, b in zip(outs["auto"][1], outs["numpy"][1]):
        assert np.abs(a.astype(int) - b).max() <= 1


def test_engine_i420_and_rgb(assets):
    from hushframe.runtime.frames import denoise_image
    from hushframe.runtime.gstreamer.engine import FrameEngine
    from hushframe.runtime.gstreamer.yuv import ColorSpace

    img = T.smooth_frames(1, 40, 70, seed=4)[0]
    e = FrameEngine(assets / "blur.xml", threads=1)
    try:
        assert e.configure("RGB", 40, 70) == "rgb"
        x = img.copy()
        e.process([x])
        np.testing.assert_array_equal(x, denoise_image(e.backend, img, overlap=e.overlap))
        cs = ColorSpace()
        y, uv = _nv12_planes(img, cs)
        planes = [y.copy(), np.ascontiguousarray(uv[..., 0]), np.ascontiguousarray(uv[..., 1])]
        assert e.configure("I420", 40, 70, cs) == "engine"
        e.process(planes)
        e.configure("NV12", 40, 70, cs)
        nv = [y.copy(), uv.copy()]
        e.process(nv)
        for a, b in zip(planes, [nv[0], nv[1][..., 0], nv[1][..., 1]]):
            np.testing.assert_array_equal(a, b)
    finally:
        e.close()


def test_yuv_round_trip():
    from hushframe.runtime.frames import to_chw
    from hushframe.runtime.gstreamer.yuv import ColorSpace, chw_to_yuv420, yuv420_to_chw

    img = T.smooth_frames(1, 32, 48, seed=1, noise=0.0)[0]
    for cs in (ColorSpace.named("bt601"), ColorSpace.named("bt709", True), ColorSpace.named("bt2020")):
        y, u, v = chw_to_yuv420(to_chw(img), cs)
        back = np.rint(np.moveaxis(yuv420_to_chw(y, u, v, cs), 0, -1) * 255)
        assert np.abs(back - img).mean() < 2.0   # 4:2:0 loses chroma detail only
    y, u, v = chw_to_yuv420(np.ones((3, 4, 4), np.float32), ColorSpace.named("bt601"))
    assert y.max() == 235 and u.max() == 128 and v.max() == 128   # white, limited range


def test_temporal_model_carries_state_and_equals_the_api(gst_env, tmp_path):
    """A temporal model in the element: one state for the stream, the same frames as the Python API's
    Denoiser on the same sequence (RGB in, bit for bit), and its resets in the stats message."""
    pytest.importorskip("cv2")
    pytest.importorskip("torch")
    from hushframe import Denoiser

    model = T.export_onnx(T.tiny_temporal(seed=1), tmp_path / "t.onnx")
    frames = T.smooth_frames(5, 48, 80, seed=8)
    src = write_pngs(tmp_path / "in", frames)
    (tmp_path / "gst").mkdir()
    r = launch(gst_env, png_pipeline(src, tmp_path / "gst", f"hushframe model={model} threads=1"), messages=True)
    assert r.returncode == 0, r.stderr
    got = read_pngs(tmp_path / "gst")
    with Denoiser(model, threads=1) as d:
        want = list(d.run(frames))
    assert len(got) == 5
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert 'state-resets=(string)"start\\ 1"' in r.stdout, r.stdout[-800:]      # one stream, no other reset


def test_temporal_model_with_lookahead_equals_the_api(gst_env, tmp_path):
    """lookahead=2 in the element: the first two buffers are held, every later buffer carries the output of
    the frame two before it (with that frame's timestamps), the last two are pushed before EOS; the frames
    equal Denoiser(lookahead=2).run's on the same sequence, bit for bit. A per-frame model refuses it."""
    pytest.importorskip("cv2")
    pytest.importorskip("torch")
    from hushframe import Denoiser

    model = T.export_onnx(T.tiny_temporal(seed=1), tmp_path / "t.onnx")
    scene = T.smooth_frames(1, 48, 80, seed=8, noise=0.0)[0].astype(np.float32)
    rng = np.random.default_rng(2)                  # a still scene: the lookahead blends every pixel
    frames = [np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).round().astype(np.uint8) for _ in range(6)]
    src = write_pngs(tmp_path / "in", frames)
    (tmp_path / "gst").mkdir()
    r = launch(gst_env, png_pipeline(src, tmp_path / "gst", f"hushframe model={model} threads=1 lookahead=2"))
    assert r.returncode == 0, r.stderr
    got = read_pngs(tmp_path / "gst")
    with Denoiser(model, threads=1, lookahead=2) as d:
        want = list(d.run(frames))
    with Denoiser(model, threads=1) as d:
        causal = list(d.run(frames))
    assert len(got) == 6
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert not np.array_equal(got[0], causal[0])
    per_frame = T.export_onnx(T.tiny_student(seed=0), tmp_path / "s.onnx")
    r = launch(gst_env, png_pipeline(src, tmp_path / "gst", f"hushframe model={per_frame} lookahead=1"))
    assert r.returncode != 0 and "needs a temporal model" in r.stderr, r.stderr[-500:]


def test_lookahead_adds_its_frames_to_a_live_pipelines_latency(gst_env, tmp_path):
    """A live pipeline's sinks wait for the configured latency: with lookahead=2 at 10 fps the element's
    outputs leave 0.2 s late, so the pipeline's latency must grow by 0.2 s (else sync=true drops them)."""
    pytest.importorskip("torch")
    import re

    model = T.export_onnx(T.tiny_temporal(seed=1), tmp_path / "t.onnx")
    env = dict(gst_env, GST_DEBUG="bin:5", GST_DEBUG_NO_COLOR="1")
    latency = {}
    for ahead in (0, 2):
        r = launch(env, "videotestsrc is-live=true num-buffers=6 ! video/x-raw,format=RGB,width=64,height=48,"
                        f"framerate=10/1 ! hushframe model={model} threads=1 lookahead={ahead} ! fakesink sync=true")
        assert r.returncode == 0, r.stderr[-800:]
        found = re.findall(r"configured latency of (\d+):(\d+):([\d.]+)", r.stderr)
        assert found, r.stderr[-800:]
        h, m, s = found[-1]
        latency[ahead] = 3600 * int(h) + 60 * int(m) + float(s)
    assert latency[2] - latency[0] == pytest.approx(0.2, abs=1e-6), latency
