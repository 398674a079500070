"""Issue 6.2: hostile files cannot turn hushframe against its user.

* a pickled checkpoint that would run code on load is refused and the code does not run;
* ONNX external data that escapes the model folder is refused by every ONNX entry point;
* an image whose header declares enormous dimensions is refused before decoding;
* a symlinked output path never lets us overwrite the file it points to.
"""

from __future__ import annotations

import os
import pickle
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from reliability_report import record

pytest_plugins = ["reliability_report"]


def _one_line_error(p, *names):
    assert "Traceback" not in p.stderr, p.stderr
    err = p.stderr.strip().splitlines()
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert len(err) == 1 and err[0].startswith("hushframe: error: "), p.stderr
    assert any(str(n) in err[0] for n in names), err[0]
    return err[0]


# ------------------------------------------------------------------ pickle
class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


@pytest.mark.timeout(180)
def test_pickle_checkpoint_refused_code_not_run(tmp_path):
    import torch

    from hushframe.toolkit.training.checkpoint import find_latest
    from hushframe.toolkit.weights import WeightsError, load_model, read_foreign_checkpoint

    marker = tmp_path / "PWNED"
    evil_zip = tmp_path / "evil.pth"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "x": _Evil(marker)}, evil_zip)
    evil_raw = tmp_path / "evil-raw.pth"
    evil_raw.write_bytes(pickle.dumps(_Evil(marker), protocol=2))
    evil_legacy = tmp_path / "evil-legacy.pth"
    torch.save({"x": _Evil(marker)}, evil_legacy, _use_new_zipfile_serialization=False)
    # sanity: a plain unpickle of the same bytes would run the code
    pickle.loads(evil_raw.read_bytes())
    assert marker.exists()
    marker.unlink()

    tried = []
    for f in (evil_zip, evil_raw, evil_legacy):
        with pytest.raises(WeightsError, match="refused|not a readable") as ei:
            read_foreign_checkpoint(f)
        assert str(f) in str(ei.value).splitlines()[0]
        assert not marker.exists()
        tried.append(f.name)
    # a pickle renamed to .safetensors, and a pickle planted as a checkpoint's tensors file
    fake = tmp_path / "evil.safetensors"
    fake.write_bytes(evil_zip.read_bytes())
    with pytest.raises(WeightsError):
        load_model(fake)
    ck = tmp_path / "ckpt" / "step-00000002"
    ck.mkdir(parents=True)
    (ck / "state.json").write_text('{"step": 2, "optimizer": {"state": {}, "param_groups": []}}')
    (ck / "model.safetensors").write_bytes(evil_zip.read_bytes())
    (ck / "optim.safetensors").write_bytes(evil_raw.read_bytes())
    assert find_latest(tmp_path / "ckpt") is None
    assert not marker.exists()
    # through the CLI: one line, exit 2, no output, code not run
    out = tmp_path / "out.safetensors"
    line = _one_line_error(run_cli("import-weights", evil_zip, "-o", out, check=False), evil_zip)
    assert not marker.exists() and not out.exists()
    record("hostile-pickle",
           inputs="3 code-running pickles (`__reduce__` -> exec writing a marker file): torch zip .pth, raw pickle, "
                  "legacy torch .pth; the same bytes as .safetensors weights and as checkpoint tensors; "
                  "`hushframe import-weights`",
           outcome=f"all refused (`WeightsError` / checkpoint skipped by `find_latest`); CLI: `{line.split(':')[0]}: "
                   f"error: ...: refused: ...`, exit 2; the marker file is never created (a plain `pickle.loads` "
                   f"of the same bytes does create it)",
           nothing_lost="no output written")


# ------------------------------------------------------------------ ONNX external data
def _external_onnx(path: Path, location: str) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 3, 1, 1), np.float32), "w")
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", "0"), ("length", "36")):
        e = w.external_data.add()
        e.key, e.value = k, v
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 3, "h", "w"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["n", 3, "h", "w"])
    g = helper.make_graph([helper.make_node("Conv", ["input", "w"], ["output"])], "g", [x], [y], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    for k, v in {"size_multiple": "1", "model_kind": "student", "arch": "student_c", "precision": "fp32",
                 "input_name": "input", "output_name": "output"}.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    path.write_bytes(m.SerializeToString())
    return path


@pytest.mark.timeout(240)
def test_onnx_external_data_escape_refused(tmp_path):
    from hushframe.export.contract import load_onnx_checked
    from hushframe.export.errors import ExportError
    from hushframe.export.openvino_ir import compile_openvino
    from hushframe.export.quantize import quantize
    from hushframe.export.triton import export_triton
    from hushframe.runtime.backends.base import open_backend
    from hushframe.runtime.errors import ArtifactError

    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"S3CRET" * 6)
    mdir = tmp_path / "models"
    mdir.mkdir()
    (mdir / "inside.bin").write_bytes(np.ones(9, np.float32).tobytes())
    os.symlink(secret, mdir / "link.bin")
    models = {
        "parent (`../secret.bin`)": _external_onnx(mdir / "parent.onnx", "../secret.bin"),
        "deep parent (`../../../../etc/passwd`)": _external_onnx(mdir / "passwd.onnx", "../../../../../../../../etc/passwd"),
        "absolute path": _external_onnx(mdir / "abs.onnx", str(secret)),
        "symlink inside the folder pointing out": _external_onnx(mdir / "link.onnx", "link.bin"),
    }
    control = _external_onnx(mdir / "ok.onnx", "inside.bin")
    # control: in-folder external data loads everywhere, so the refusals below are about the path
    load_onnx_checked(control)
    for be in ("onnxruntime", "openvino"):
        open_backend(control, backend=be, threads=1).close()

    entry_points = {
        "export load_onnx_checked": lambda p: load_onnx_checked(p),
        "quantize fp16": lambda p: quantize(p, tmp_path / "q.onnx", "fp16"),
        "compile openvino": lambda p: compile_openvino(p, tmp_path / "c.xml", latency_check=False),
        "export triton": lambda p: export_triton(p, tmp_path / "triton"),
        "runtime open_backend onnxruntime": lambda p: open_backend(p, backend="onnxruntime", threads=1),
        "runtime open_backend openvino": lambda p: open_backend(p, backend="openvino", threads=1),
    }
    leaks = []
    for label, m in models.items():
        for ep, fn in entry_points.items():
            with pytest.raises((ExportError, ArtifactError)) as ei:
                fn(m)
            msg = str(ei.value)
            assert "\n" not in msg.strip() and str(m) in msg, (ep, msg)
            if "S3CRET" in msg or "root:" in msg:
                leaks.append((label, ep))
    assert not leaks
    assert not (tmp_path / "q.onnx").exists() and not (tmp_path / "c.xml").exists() and not (tmp_path / "triton").exists()
    # CLI: one line, exit 2 (compile tensorrt shares export's load_onnx_checked; no GPU here)
    lines = [_one_line_error(run_cli("quantize", models["absolute path"], "--precision", "fp16", "-o", tmp_path / "q.onnx",
                                     check=False), "abs.onnx"),
             _one_line_error(run_cli("stream", tmp_path / "x.png", "--model", models["parent (`../secret.bin`)"],
                                     "-o", tmp_path / "o", check=False), "parent.onnx", "x.png")]
    record("hostile-onnx-external",
           inputs=f"{len(models)} models ({'; '.join(models)}) x {len(entry_points)} entry points "
                  f"({', '.join(entry_points)}) + CLI `quantize`, `stream`; control model with in-folder data loads",
           outcome="all 24 refused with one line naming the model (`ExportError` / `ArtifactError`); the secret's "
                   "bytes never appear in a message; CLI exit 2, one line",
           nothing_lost="no output written (no q.onnx, no .xml, no Triton repository)")
    assert lines


# ------------------------------------------------------------------ decompression bombs
def _png_header_only(path: Path, w: int, h: int):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _jpeg_with_size(src: bytes, w: int, h: int) -> bytes:
    i = src.index(b"\xff\xc0")      # SOF0: FFC0 len(2) precision(1) height(2) width(2)
    return src[:i + 5] + struct.pack(">HH", h, w) + src[i + 9:]


def _tiff_header_only(path: Path, w: int, h: int):
    entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2), (273, 4, 1, 200),
               (277, 3, 1, 3), (278, 4, 1, h), (279, 4, 1, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) if e[1] == 4 else
                                                       struct.pack("<HHIHH", e[0], e[1], e[2], e[3], 0) for e in entries)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + b"\0" * 300)


@pytest.mark.timeout(120)
def test_decompression_bomb_refused_before_decoding(tmp_path):
    from hushframe.runtime.sources import open_source
    from hushframe.core.images import MAX_PIXELS, ImageError, read_image, write_image

    write_image(tmp_path / "small.jpg", np.zeros((16, 16, 3), np.uint8))
    bombs = {}
    for w, h in ((100_000, 100_000), (20_000, 12_000), (65_000, 65_000)):
        _png_header_only(tmp_path / f"bomb{w}x{h}.png", w, h)
        bombs[f"PNG {w}x{h}"] = tmp_path / f"bomb{w}x{h}.png"
    (tmp_path / "bomb.jpg").write_bytes(_jpeg_with_size((tmp_path / "small.jpg").read_bytes(), 65_000, 65_000))
    bombs["JPEG 65000x65000"] = tmp_path / "bomb.jpg"
    _tiff_header_only(tmp_path / "bomb.tif", 100_000, 100_000)
    bombs["TIFF 100000x100000"] = tmp_path / "bomb.tif"
    _png_header_only(tmp_path / "just-over.png", 20_000, MAX_PIXELS // 20_000 + 1)
    bombs[f"PNG just over the {MAX_PIXELS} limit"] = tmp_path / "just-over.png"
    peak_all, slowest = 0, 0.0
    for label, p in bombs.items():
        tracemalloc.start()
        t = time.perf_counter()
        with pytest.raises(ImageError, match="refused|exceeds") as ei:
            read_image(p)
        slowest = max(slowest, time.perf_counter() - t)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peak_all = max(peak_all, peak)
        assert str(p) in str(ei.value).splitlines()[0]
        assert peak < 16 << 20, f"{label}: {peak / 2**20:.0f} MiB allocated before refusing"
    assert slowest < 2.0
    # in a stream, a bomb among good frames is skipped and counted
    d = tmp_path / "frames"
    d.mkdir()
    write_image(d / "a.png", np.zeros((32, 32, 3), np.uint8))
    _png_header_only(d / "b.png", 100_000, 100_000)
    write_image(d / "c.png", np.zeros((32, 32, 3), np.uint8))
    src = open_source(d)
    frames = list(src)
    assert len(frames) == 2 and src.stats["corrupt"] == 1
    record("hostile-bomb", inputs=f"{len(bombs)} headers: " + ", ".join(bombs) + "; a bomb inside an image-folder stream",
           outcome="all refused before decoding (`ImageError: ... refused`), each in < 2 s with < 16 MiB allocated "
                   "(tracemalloc); in a stream the bomb is skipped and counted (corrupt 1), the other 2 frames go on",
           nothing_lost="yes: the good frames around the bomb are all delivered")


# ------------------------------------------------------------------ symlinked outputs
@pytest.mark.timeout(240)
def test_symlinked_outputs_do_not_overwrite_target(tmp_path):
    import torch

    from hushframe.export.quantize import quantize
    from hushframe.runtime.sinks import ImageFolderSink
    from hushframe.runtime.stream import stream_video
    from hushframe.runtime.testing import export_onnx, smooth_frames, tiny_student, write_clip
    from hushframe.core.atomic import write_json_atomic
    from hushframe.core.images import write_image
    from hushframe.core.manifest import manifest_path, write_manifest
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    precious = b"precious user data\n"
    onnx = export_onnx(tiny_student(width=4), tmp_path / "m.onnx")
    clip = write_clip(tmp_path / "in.mkv", smooth_frames(3, 32, 32), codec="ffv1", audio=False)

    def plant(name):
        target = outside / f"target-{name}"
        target.write_bytes(precious)
        link = out / name
        link.symlink_to(target)
        return link, target

    torch.manual_seed(0)
    writers = {
        "image (write_image)": ("frame.png", lambda p: write_image(p, np.zeros((8, 8, 3), np.uint8))),
        "weights (save_model)": ("w.safetensors", lambda p: save_model(create_model("student_c", width=4, levels=2), p)),
        "JSON report (write_json_atomic: stream --stats-json, bench, eval, adapt)": ("report.json", lambda p: write_json_atomic(p, {"a": 1})),
        "manifest (write_manifest)": ("art.bin.manifest.json", lambda p: write_manifest(_touch(out / "art.bin"), kind="x", made_by="t")),
        "video (stream -> .mkv)": ("video.mkv", lambda p: stream_video(clip, onnx, p, backend="onnxruntime", threads=1,
                                                                          overwrite=True)),
        "video (stream -> .mp4)": ("video.mp4", lambda p: stream_video(clip, onnx, p, backend="onnxruntime", threads=1,
                                                                          overwrite=True)),
        "image folder sink frame": ("frame_000000.png", lambda p: _sink_one(ImageFolderSink(out), smooth_frames(1, 16, 16)[0])),
        "quantized ONNX (export quantize)": ("q.onnx", lambda p: quantize(_hf_onnx(tmp_path), p, "fp16")),
    }
    for label, (name, fn) in writers.items():
        link, target = plant(name)
        fn(link)
        assert target.read_bytes() == precious, f"{label}: wrote through the symlink to {target}"
        assert link.exists() and not link.is_symlink(), f"{label}: output not written in place of the link"
    assert sorted(p.name for p in outside.iterdir()) == sorted(f"target-{n}" for n, _ in writers.values())
    record("hostile-symlink",
           inputs=f"{len(writers)} writers, each given an output path that is a symlink to a file outside the "
                  f"output folder: " + "; ".join(writers),
           outcome="every writer replaces the link itself (atomic rename / unlink before opening); no target is "
                   "modified",
           nothing_lost="yes: all targets keep their bytes; outputs are complete files in the output folder")
    assert manifest_path(out / "art.bin").exists()


def _hf_onnx(tmp_path: Path) -> Path:
    from hushframe.export.onnx_export import export_onnx
    from hushframe.runtime.testing import tiny_student
    from hushframe.toolkit.weights import save_model

    w = save_model(tiny_student(width=4), tmp_path / "student.safetensors")
    return export_onnx(w, tmp_path / "student.onnx")


def _touch(p: Path) -> Path:
    p.write_bytes(b"artifact")
    return p


def _sink_one(sink, img):
    from hushframe.runtime.frames import Frame

    with sink:
        sink.write(Frame(0, img, pts=0))
