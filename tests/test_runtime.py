"""Runtime: backends, stream pipeline on files, tiling, parity, bench, bad input.

Real ONNX Runtime / OpenVINO / PyAV on tiny models exported at test time; no mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hushframe.runtime import testing as T

from conftest import SHARED  # ../shared, or $HUSHFRAME_SHARED
HF = [sys.executable, "-m", "hushframe.toolkit.cli.main"]


def hf(*args, timeout=240, **kw):
    return subprocess.run(HF + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, **kw)


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """Tiny student C (width 8) as .safetensors, .onnx (+manifest) and OpenVINO IR; a blur net for tiling."""
    from hushframe.toolkit.weights import save_model

    d = tmp_path_factory.mktemp("rt_assets")
    m = T.tiny_student(seed=0)
    save_model(m, d / "tiny.safetensors")
    T.export_onnx(m, d / "tiny.onnx")
    T.export_openvino(d / "tiny.onnx", d / "tiny.xml")
    T.export_onnx(T.tiny_student(seed=1), d / "other.onnx")
    T.export_onnx(T.blur_net(), d / "blur.onnx")
    frames = T.smooth_frames(10, 64, 96, seed=3)
    T.write_clip(d / "clip.mp4", frames, fps=10)
    return d


# ------------------------------------------------------------------ backends
def test_backends_agree_and_describe(assets):
    from hushframe.runtime.backends import open_backend

    x = np.random.default_rng(0).random((2, 3, 64, 96), dtype=np.float32)
    outs = {}
    for art, name in [("tiny.safetensors", "torch"), ("tiny.onnx", "onnxruntime"), ("tiny.onnx", "openvino"),
                      ("tiny.xml", "openvino")]:
        with open_backend(assets / art, backend=name) as be:
            info = be.info
            assert info.backend == name and info.size_multiple == 32 and info.precision == "fp32"
            assert info.device.lower() == "cpu" and info.max_hw is None
            assert name in info.describe()
            outs[(art, name)] = be.infer(x)
    ref = outs[("tiny.safetensors", "torch")]
    for k, y in outs.items():
        assert y.shape == x.shape and y.dtype == np.float32
        np.testing.assert_allclose(y, ref, atol=2e-4, err_msg=str(k))


def test_openvino_compiles_static_copies_per_shape(assets, monkeypatch):
    """A dynamic IR runs a shape it has seen before on a static-shape copy (faster in OpenVINO's CPU
    plugin), a shape seen once on itself; the same outputs either way, the least recently used copy
    dropped; HUSHFRAME_OV_STATIC_SHAPES=0 opts out."""
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.backends import openvino as ovb

    rng = np.random.default_rng(1)
    xs = [rng.random(s, dtype=np.float32) for s in ((1, 3, 64, 96), (2, 3, 32, 64), (1, 3, 96, 64))]
    monkeypatch.setenv("HUSHFRAME_OV_STATIC_SHAPES", "0")
    with open_backend(assets / "tiny.xml", backend="openvino") as be:
        assert be.info.detail["shapes"] == "dynamic" and be._static is None
        ref = [be.infer(x) for x in xs]
    monkeypatch.delenv("HUSHFRAME_OV_STATIC_SHAPES")
    with open_backend(assets / "tiny.xml", backend="openvino") as be:
        assert be.info.detail["shapes"] == "static per input shape"
        for x, r in zip(xs, ref):  # each shape once: the dynamic model, nothing compiled
            np.testing.assert_allclose(be.infer(x), r, atol=1e-5)
        assert not be._static
        for x, r in zip(xs + xs[:1], ref + ref[:1]):  # seen again: static copies, the same outputs
            np.testing.assert_allclose(be.infer(x), r, atol=1e-5)
        assert list(be._static) == [xs[2].shape, xs[0].shape][-ovb.STATIC_SHAPES:]
        req, _ = be._static[xs[0].shape]
        assert req is not be.request and tuple(req.get_input_tensor().shape) == xs[0].shape


def test_auto_selection_and_errors(assets, tmp_path):
    from hushframe.runtime.backends import open_backend, select_backend
    from hushframe.runtime.artifact import load_artifact
    from hushframe.runtime.errors import ArtifactError, ShapeError

    cls, why = select_backend(load_artifact(assets / "tiny.onnx"), "auto", device="cpu")
    assert cls.name == "onnxruntime" and "auto" in why   # an artifact's own runtime (OpenVINO: --backend openvino)
    assert select_backend(load_artifact(assets / "tiny.safetensors"), "auto", "cpu")[0].name == "torch"
    with open_backend(assets / "tiny.onnx", backend="onnxruntime") as be:
        with pytest.raises(ShapeError, match="multiple of 32"):
            be.infer(np.zeros((1, 3, 50, 64), np.float32))
    with pytest.raises(ArtifactError, match="no such"):
        open_backend(tmp_path / "missing.onnx")
    with pytest.raises(ArtifactError, match="cannot load torch"):
        open_backend(assets / "tiny.safetensors", backend="onnxruntime")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx graph")
    with pytest.raises(ArtifactError, match="not an ONNX model"):
        open_backend(bad, backend="onnxruntime")
    # no manifest: first input/output, multiple 32
    (tmp_path / "bare.onnx").write_bytes((assets / "tiny.onnx").read_bytes())
    with open_backend(tmp_path / "bare.onnx", backend="onnxruntime") as be:
        assert be.info.input_name == "input" and be.info.size_multiple == 32


# ------------------------------------------------------------------ streaming files
def _per_frame(art, frames, backend="onnxruntime"):
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.frames import denoise_image

    with open_backend(art, backend=backend) as be:
        return [denoise_image(be, f) for f in frames]


def test_stream_file_keeps_order_timestamps_and_audio(assets, tmp_path):
    from hushframe.runtime.stream import stream_video

    src_frames, src_pts, src_counts = T.read_clip(assets / "clip.mp4")
    out = tmp_path / "out.mkv"
    st = stream_video(assets / "clip.mp4", assets / "tiny.onnx", out, backend="onnxruntime", codec="ffv1", batch=3,
                      queue_size=2)
    assert st.frames_out == len(src_frames) == 10 and st.dropped == 0 and st.corrupt == 0
    frames, pts, counts = T.read_clip(out)
    expected = _per_frame(assets / "tiny.onnx", src_frames)
    assert len(frames) == len(expected)
    for got, exp in zip(frames, expected):      # FFV1 is lossless: exact, and in order
        np.testing.assert_array_equal(got, exp)
    # timestamps: same times as the source (container time bases may differ)
    import av

    with av.open(str(assets / "clip.mp4")) as a, av.open(str(out)) as b:
        ta = [float(f.pts * f.time_base) for f in a.decode(video=0)]
        tb = [float(f.pts * f.time_base) for f in b.decode(video=0)]
    # Matroska shifts everything by the AAC priming delay (no negative times): compare from the first frame
    np.testing.assert_allclose(np.subtract(tb, tb[0]), np.subtract(ta, ta[0]), atol=2e-3)
    assert counts.get("audio", 0) == src_counts["audio"] > 0       # audio passed through packet for packet
    s = st.summary()
    assert s["latency_p50_ms"] is not None and s["latency_p99_ms"] >= s["latency_p50_ms"]


def test_stream_h264_and_image_folders(assets, tmp_path):
    from hushframe.runtime.stream import stream_video
    from hushframe.core.images import list_images, read_uint8, write_image

    st = stream_video(assets / "clip.mp4", assets / "tiny.xml", tmp_path / "o.mp4", backend="openvino")
    frames, _, counts = T.read_clip(tmp_path / "o.mp4")
    assert st.frames_out == len(frames) == 10 and counts["audio"] > 0
    # image folder -> image folder, names kept, odd count with batch 4 (partial last batch)
    src = tmp_path / "in"
    src.mkdir()
    imgs = T.smooth_frames(5, 48, 80, seed=5)
    for i, im in enumerate(imgs):
        write_image(src / f"shot_{i}.png", im)
    st = stream_video(src, assets / "tiny.onnx", tmp_path / "outdir", backend="onnxruntime", batch=4)
    outs = list_images(tmp_path / "outdir")
    assert st.frames_out == 5 and [p.name for p in outs] == [f"shot_{i}.png" for i in range(5)]
    exp = _per_frame(assets / "tiny.onnx", imgs)
    for p, e in zip(outs, exp):
        np.testing.assert_array_equal(read_uint8(p), e)
    # a glob and no output
    st = stream_video(str(src / "shot_[0-2].png"), assets / "tiny.onnx", None, backend="onnxruntime")
    assert st.frames_out == 3


def test_stream_cli_prints_backend_and_stats(assets, tmp_path):
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", tmp_path / "c.mp4", "--progress", "plain",
           "--stats-json", tmp_path / "s.json")
    assert r.returncode == 0, r.stderr
    assert "backend: onnxruntime" in r.stderr and "auto" in r.stderr
    assert "fps" in r.stderr and "p95" in r.stderr and "dropped 0" in r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["frames_out"] == 10 and s["dropped"] == 0


# ------------------------------------------------------------------ tiling
def _seam_band(h, w, tile, overlap):
    from hushframe.runtime.tiling import plan_tiles

    mask = np.zeros((h, w), bool)
    for t in plan_tiles(h, w, tile, overlap):
        for y in (t.y, t.y + t.h):
            if 0 < y < h:
                mask[max(0, y - overlap):y + overlap] = True
        for x in (t.x, t.x + t.w):
            if 0 < x < w:
                mask[:, max(0, x - overlap):x + overlap] = True
    return mask


def _tiling_check(art, img, tile=(128, 128), overlap=32, backend="onnxruntime"):
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.frames import denoise_image, from_output, to_batch
    from hushframe.runtime.tiling import infer_tiled
    from hushframe.core.metrics import psnr

    h, w = img.shape[:2]
    with open_backend(art, backend=backend) as be:
        full = denoise_image(be, img)
    with open_backend(art, backend=backend, max_hw=tile) as be:
        assert be.info.max_hw == tile
        tiled = denoise_image(be, img, overlap=overlap)
        hard = from_output(infer_tiled(be, to_batch([img], 32)[0], overlap=overlap, blend=False), h, w)
    band = _seam_band(h, w, tile, overlap)
    assert band.any()
    return psnr(full[band], tiled[band]), psnr(full[band], hard[band]), np.abs(full.astype(int) - tiled).max()


def test_tiling_seams_match_untiled(assets):
    img = T.smooth_frames(1, 250, 330, seed=7)[0]      # not a multiple of 32: padding + tiling together
    blended, hard, maxdiff = _tiling_check(assets / "blur.onnx", img)
    assert blended >= 45.0, (blended, hard)            # seam band within ~1 grey level of the untiled run
    assert blended > hard + 10.0                        # and the blend is what removes the seams
    assert maxdiff <= 4


@pytest.mark.shared
def test_tiling_seams_real_student(assets, published_student):
    noisy, _ = published_student.pairs[0].load()
    blended, hard, maxdiff = _tiling_check(published_student.onnx, noisy[:320, :384], tile=(192, 192), overlap=32,
                                           backend="openvino")
    assert blended >= 55.0 and blended > hard + 3.0 and maxdiff <= 2, (blended, hard, maxdiff)


def test_stream_tiles_frames_above_engine_maximum(assets, tmp_path):
    from hushframe.runtime.stream import stream_video
    from hushframe.core.metrics import psnr

    frames = T.smooth_frames(3, 200, 260, seed=9)
    T.write_clip(tmp_path / "big.mkv", frames, codec="ffv1", audio=False)
    st = stream_video(tmp_path / "big.mkv", assets / "blur.onnx", tmp_path / "o.mkv", codec="ffv1",
                      backend="onnxruntime", tile=(128, 128), overlap=32)
    assert st.tiled_frames == 3
    got, _, _ = T.read_clip(tmp_path / "o.mkv")
    exp = _per_frame(assets / "blur.onnx", frames)
    assert min(psnr(e, g) for e, g in zip(exp, got)) > 45.0


# ------------------------------------------------------------------ bad input
def test_corrupt_frame_in_the_middle_is_skipped(assets, tmp_path):
    frames = T.smooth_frames(12, 64, 96, seed=11)
    clip = T.write_clip(tmp_path / "c.mp4", frames, codec="libx264", audio=False)
    import av

    with av.open(str(clip)) as c:                        # overwrite packet 6 with garbage
        pos, size = [(p.pos, p.size) for p in c.demux(video=0) if p.size][6]
    data = bytearray(clip.read_bytes())
    data[pos:pos + size] = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    clip.write_bytes(bytes(data))
    r = hf("stream", clip, "-m", assets / "tiny.onnx", "-o", tmp_path / "o", "--stats-json", tmp_path / "s.json",
           "--progress", "none")
    assert r.returncode == 0, r.stderr
    s = json.loads((tmp_path / "s.json").read_text())
    assert s["corrupt_skipped"] >= 1 and s["frames_out"] == 12 - s["corrupt_skipped"] >= 10, s
    assert len(list((tmp_path / "o").iterdir())) == s["frames_out"]


def test_bad_inputs_and_outputs_give_one_line_errors(assets, tmp_path):
    r = hf("stream", tmp_path / "nope.mp4", "-m", assets / "tiny.onnx")
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    r = hf("stream", junk, "-m", assets / "tiny.onnx")
    assert r.returncode == 2 and "hushframe: error:" in r.stderr and "Traceback" not in r.stderr
    r = hf("stream", assets / "clip.mp4", "-m", tmp_path / "none.onnx")
    assert r.returncode == 2 and "no such model artifact" in r.stderr
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", tmp_path / "missing_dir" / "o.mp4")
    assert r.returncode == 4 and "does not exist" in r.stderr
    if Path("/dev/full").exists():                       # disk full while writing: one line, non-zero
        r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", "/dev/full", "--progress", "none")
        assert r.returncode == 4 and "disk full" in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_unwritable_image_folder_keeps_written_frames(assets, tmp_path):
    """A write that fails mid-run: the error is one line and the frames already written stay."""
    from hushframe.runtime.errors import SinkError
    from hushframe.runtime.sinks import ImageFolderSink

    out = tmp_path / "frames"
    sink = ImageFolderSink(out)
    real_write = sink.write

    def write(frame, audio_packets=None):
        if frame.index == 4:                             # the 5th frame's file is a folder: EISDIR
            (out / "frame_000004.png").mkdir()
        real_write(frame, audio_packets)

    sink.write = write
    from hushframe.runtime.sources import open_source
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.pipeline import Pipeline

    with open_source(assets / "clip.mp4") as src, open_backend(assets / "tiny.onnx", "onnxruntime") as be:
        with pytest.raises(SinkError, match="frame_000004.png"):
            Pipeline(src, be, sink).run()
    assert sorted(p.name for p in out.glob("*.png") if p.is_file()) == [f"frame_{i:06d}.png" for i in range(4)]


# ------------------------------------------------------------------ parity
def test_parity_gate_cli(assets, tmp_path):
    pairs = T.write_pairs(tmp_path / "pairs", n=3)
    r = hf("parity", assets / "tiny.onnx", "--pairs", pairs, "-r", assets / "tiny.safetensors", "--backend",
           "onnxruntime", "-o", tmp_path / "ok", "--save-reference-output", tmp_path / "ref")
    assert r.returncode == 0, r.stderr
    doc = json.loads((tmp_path / "ok.json").read_text())
    assert doc["passed"] and doc["summary"]["count"] == 3 and abs(doc["summary"]["psnr_drop"]) < 0.01
    assert doc["summary"]["output_psnr"] is None or doc["summary"]["output_psnr"] > 60
    assert "PASS" in (tmp_path / "ok.md").read_text() and "| reference |" in r.stdout
    # torch-free form: reference outputs computed above
    r = hf("parity", assets / "tiny.xml", "--pairs", pairs, "--reference-output", tmp_path / "ref", "--json",
           tmp_path / "ov.json")
    assert r.returncode == 0, r.stderr
    # a different model fails the gate: exit 1, reports written
    r = hf("parity", assets / "other.onnx", "--pairs", pairs, "--reference-output", tmp_path / "ref",
           "--min-output-psnr", "40", "-o", tmp_path / "bad")
    assert r.returncode == 1 and "FAIL" in r.stdout
    assert not json.loads((tmp_path / "bad.json").read_text())["passed"]
    # the worst image is bounded beside the mean, and the five worst are listed
    r = hf("parity", assets / "other.onnx", "--pairs", pairs, "--reference-output", tmp_path / "ref",
           "--max-drop", "100", "--max-image-drop", "-100", "-o", tmp_path / "worst")
    doc = json.loads((tmp_path / "worst.json").read_text())
    assert r.returncode == 1 and doc["thresholds"]["max_image_drop"] == -100
    assert [f for f in doc["failures"] if f.startswith(f"worst image {doc['summary']['worst_image']}")]
    assert "Worst images:" in r.stdout and doc["summary"]["worst_image_drop"] >= doc["summary"]["best_image_drop"]


def test_parity_on_video_frames(assets, tmp_path):
    from hushframe.runtime.parity import run_parity

    res = run_parity(assets / "tiny.xml", video=assets / "clip.mp4", reference=assets / "tiny.onnx",
                     reference_backend="onnxruntime", every=2, max_frames=3)
    assert res.mode == "video" and res.summary["count"] == 3 and res.passed
    assert res.thresholds["min_output_psnr"] == 40.0


@pytest.mark.shared
def test_parity_polyu_subset_onnxruntime_and_openvino(published_student, tmp_path):
    from hushframe.runtime.parity import run_parity

    sc = published_student
    res = run_parity(sc.onnx, pairs=SHARED / "data/polyu-dev", reference=sc.weights,
                     backend="openvino", every=12, save_reference_output=tmp_path / "ref")
    assert res.summary["count"] == 5 and res.passed and abs(res.summary["psnr_drop"]) < 0.05
    assert res.summary["output_psnr"] > 50
    res2 = run_parity(sc.onnx, pairs=SHARED / "data/polyu-dev", reference_output=tmp_path / "ref",
                      backend="onnxruntime", every=12)
    assert res2.passed and res2.summary["output_psnr"] > 60


# ------------------------------------------------------------------ bench
def test_bench_cli_table_and_json(assets, tmp_path):
    r = hf("bench", assets / "tiny.onnx", assets / "tiny.xml", "--backend", "all", "--size", "64x64", "--size",
           "96x64", "--iterations", "2", "--duration", "0", "--json", tmp_path / "b.json")
    assert r.returncode == 0, r.stderr
    rows = json.loads((tmp_path / "b.json").read_text())["rows"]
    seen = {(x["artifact"], x["backend"], x["size"]) for x in rows}
    assert ("tiny.onnx", "onnxruntime", "64x64") in seen and ("tiny.onnx", "openvino", "96x64") in seen
    assert ("tiny.xml", "openvino", "64x64") in seen
    assert all(x["throughput_fps"] > 0 and x["precision"] == "fp32" for x in rows)
    assert "| backend |" in r.stdout or "backend" in r.stdout.splitlines()[0]


# ------------------------------------------------------------------ no torch on the device
def test_stream_and_parity_never_import_torch(assets, tmp_path):
    code = f"""
import sys
import hushframe.runtime.stream, hushframe.runtime.parity, hushframe.runtime.bench, hushframe.runtime.cli
from hushframe.runtime.stream import stream_video
st = stream_video({str(assets / 'clip.mp4')!r}, {str(assets / 'tiny.onnx')!r}, {str(tmp_path / 'o.mp4')!r},
                  backend='onnxruntime')
st2 = stream_video({str(assets / 'clip.mp4')!r}, {str(assets / 'tiny.xml')!r}, None, backend='openvino')
from hushframe.toolkit.cli.main import main
rc = main(['parity', {str(assets / 'tiny.xml')!r}, '--video', {str(assets / 'clip.mp4')!r}, '--reference',
           {str(assets / 'tiny.onnx')!r}, '--reference-backend', 'onnxruntime', '--max-frames', '2'])
bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))
print('FRAMES', st.frames_out, st2.frames_out, 'RC', rc, 'TORCH', bad[:5])
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "FRAMES 10 10 RC 0 TORCH []" in r.stdout, r.stdout + r.stderr


def test_onnx_with_non_utf8_metadata_is_one_line_error(tmp_path):
    """Found by fuzzing: ONNX Runtime loads such a model, then fails to decode its metadata."""
    import onnx
    from onnx import TensorProto, helper

    from hushframe.core.errors import HushframeError
    from hushframe.runtime.backends.base import open_backend

    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, None, None])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, None, None])
    m = helper.make_model(helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    helper.set_model_props(m, {"model_kind": "QQQQ"})
    data = m.SerializeToString().replace(b"QQQQ", b"\xff\xff\xff\xff")
    p = tmp_path / "m.onnx"
    p.write_bytes(data)
    with pytest.raises(HushframeError, match="m.onnx: damaged ONNX metadata"):
        with open_backend(p, backend="onnxruntime", threads=1):
            pass
