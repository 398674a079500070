"""A newcomer's first hour (issue 14): the everyday mistakes end in one line and a non-zero exit,
nothing is replaced without --overwrite, outputs are checked before the work, and a SIGKILL while
streaming live to .mkv / fragmented .mp4 loses at most the last ~2 seconds.

Real ONNX Runtime / OpenVINO / PyAV / FFmpeg lavfi on a tiny model; no mocks.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hushframe.runtime import testing as T

HF = [sys.executable, "-m", "hushframe.toolkit.cli.main"]


def hf(*args, timeout=240):
    return subprocess.run(HF + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)


def one_line_error(r, code=2, *words):
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("hushframe: error:")]   # warnings may precede
    assert len(errors) == 1 and r.stderr.strip().endswith(errors[0]), r.stderr
    err = errors[0]
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from hushframe.core.images import write_image

    from hushframe.export.onnx_export import export_onnx
    from hushframe.toolkit.weights import save_model

    d = tmp_path_factory.mktemp("newcomer")
    save_model(T.tiny_student(seed=0), d / "tiny.safetensors")
    export_onnx(d / "tiny.safetensors", d / "tiny.onnx")              # what `hushframe export` writes
    T.export_openvino(d / "tiny.onnx", d / "tiny.xml")
    T.write_clip(d / "clip.mp4", T.smooth_frames(6, 64, 96, seed=3), fps=10)
    write_image(d / "one.png", T.smooth_frames(1, 48, 80, seed=4)[0])
    (d / "text.png").write_text("this is not a picture\n")
    return d


# 1. DataError is a user error (train / distill / adapt share the reader)
def test_missing_or_unreadable_training_data_is_one_line(assets, tmp_path):
    r = hf("train", tmp_path / "nosuchdir", "-o", tmp_path / "run", "--recipe", "quick-cpu")
    one_line_error(r, 2, "nosuchdir", "no such file or folder")
    r = hf("train", assets / "text.png", "-o", tmp_path / "run", "--recipe", "quick-cpu")
    one_line_error(r, 2, "no readable noisy images", "text.png")


# 2. bench refuses sizes that cannot fit, before loading anything
def test_bench_impossible_size_is_refused(assets):
    r = hf("bench", assets / "tiny.onnx", "--size", "99999x99999")
    one_line_error(r, 2, "99999x99999", "GiB")


# 3. a run that writes nothing fails
def test_stream_that_writes_nothing_fails(assets, tmp_path):
    r = hf("stream", assets / "text.png", "-m", assets / "tiny.onnx", "-o", tmp_path / "out.png")
    assert "nothing written" in r.stderr and r.returncode == 2, r.stderr
    assert not (tmp_path / "out.png").exists()


# 4. one image to an image file name gives that file; several frames to an image name is refused
def test_single_image_to_a_file_name(assets, tmp_path):
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.frames import denoise_image
    from hushframe.core.images import read_uint8

    out = tmp_path / "single.png"
    r = hf("stream", assets / "one.png", "-m", assets / "tiny.onnx", "-o", out, "--progress", "none")
    assert r.returncode == 0, r.stderr
    assert out.is_file() and "wrote 1 frame ->" in r.stderr          # singular, and a file, not a folder
    with open_backend(assets / "tiny.onnx") as be:
        np.testing.assert_array_equal(read_uint8(out), denoise_image(be, read_uint8(assets / "one.png")))
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", tmp_path / "many.png")
    one_line_error(r, 4, "many.png", "single-image source")


# 5. an existing output is refused unless --overwrite / -y
def test_existing_outputs_need_overwrite(assets, tmp_path):
    out = tmp_path / "clean.mp4"
    out.write_bytes(b"an earlier, longer recording")
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", out, "--progress", "none")
    one_line_error(r, 4, "clean.mp4", "--overwrite")
    assert out.read_bytes() == b"an earlier, longer recording"
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", out, "-y", "--progress", "none")
    assert r.returncode == 0 and len(T.read_clip(out)[0]) == 6, r.stderr
    folder = tmp_path / "frames"
    folder.mkdir()
    (folder / "frame_000000.png").write_bytes(b"keep me")
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", folder)
    one_line_error(r, 4, "frames", "--overwrite")
    for cmd in (["export", assets / "tiny.onnx", "-o", assets / "tiny.onnx"],           # refused before loading
                ["compile", "openvino", assets / "tiny.onnx", "-o", assets / "tiny.xml"],
                ["bench", assets / "tiny.onnx", "--json", out]):
        one_line_error(hf(*cmd), 2, "--overwrite")


def test_eval_results_need_overwrite(tmp_path):
    import numpy as np
    from PIL import Image

    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    pairs = tmp_path / "pairs"
    pairs.mkdir()
    rng = np.random.default_rng(0)
    im = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    Image.fromarray(im).save(pairs / "a_real.png"); Image.fromarray(im).save(pairs / "a_mean.png")
    save_model(create_model("student_a", width=4), tmp_path / "s.safetensors")
    out = tmp_path / "eval"
    assert hf("eval", tmp_path / "s.safetensors", "--pairs", pairs, "-o", out, "--examples", "0").returncode == 0
    before = (out / "results.json").read_bytes()
    one_line_error(hf("eval", tmp_path / "s.safetensors", "--pairs", pairs, "-o", out), 2, "results.json", "--overwrite")
    assert (out / "results.json").read_bytes() == before
    assert hf("eval", tmp_path / "s.safetensors", "--pairs", pairs, "-o", out, "-y", "--examples", "0").returncode == 0


# 6. the demo says when it reuses models and records what ran
def test_demo_reuse_is_said_and_recorded(tmp_path):
    from rich.console import Console

    from hushframe.toolkit.cli.demo_cmd import reused_steps, what_it_shows
    from hushframe.core.manifest import write_manifest

    teacher = tmp_path / "teacher.safetensors"
    assert reused_steps(Console(file=io.StringIO()), teacher, 5, "--teacher-steps") is None   # nothing: train
    teacher.write_bytes(b"weights")
    write_manifest(teacher, kind="weights", made_by="hushframe teacher", settings={"iterations": 60})
    buf = io.StringIO()
    assert reused_steps(Console(file=buf, width=400), teacher, 5, "--teacher-steps") == 60
    assert "reusing" in buf.getvalue() and "--teacher-steps 5 is not applied" in buf.getvalue()
    # 14. the caption says what the strip shows and what this run is
    cap = what_it_shows(60, 60, False)
    assert "left to right" in cap and "60 teacher + 60 distillation steps" in cap


# 7. outputs are checked before the work
def test_parity_and_bench_check_outputs_first(assets, tmp_path):
    pairs = T.write_pairs(tmp_path / "pairs", n=2)
    r = hf("parity", assets / "tiny.xml", "--pairs", pairs, "-r", assets / "tiny.onnx", "-o", tmp_path / "nodir" / "p")
    one_line_error(r, 2, "nodir", "does not exist")
    assert "outputs" not in r.stdout + r.stderr.replace("output folder", "")    # no comparison ran
    r = hf("bench", assets / "tiny.onnx", "--json", tmp_path / "nodir" / "b.json", "--size", "64x64")
    one_line_error(r, 2, "nodir")
    assert "fps" not in r.stderr


# 8. the reliability table is written only on request
def test_reliability_report_is_opt_in(tmp_path, monkeypatch):
    import reliability_report as rr

    monkeypatch.setattr(rr, "ROOT", tmp_path)
    monkeypatch.setattr(rr, "SOAK_JSON", tmp_path / "no-soak.json")
    monkeypatch.setattr(rr, "_results", {"fuzz-image": {"inputs": "x", "outcome": "y", "lost": "z"}})
    monkeypatch.delenv("HUSHFRAME_RELIABILITY_MD", raising=False)
    rr.pytest_sessionfinish(None, 0)
    assert not (tmp_path / "RELIABILITY.md").exists()
    monkeypatch.setenv("HUSHFRAME_RELIABILITY_MD", "RELIABILITY.md")
    rr.pytest_sessionfinish(None, 0)
    assert "| `fuzz-image` |" in (tmp_path / "RELIABILITY.md").read_text()

    class Skipped:                                  # what pytest hands over for a skip
        longrepr = ("tests/x.py", 3, "Skipped: ffmpeg not installed")

    assert rr.skip_reason(Skipped()) == "ffmpeg not installed"


# 9. an artifact runs on its own runtime by default, and every line says which one ran
def test_auto_backend_is_the_artifacts_own_runtime(assets, tmp_path):
    from hushframe.runtime.artifact import load_artifact
    from hushframe.runtime.backends import select_backend

    assert select_backend(load_artifact(assets / "tiny.onnx"))[0].name == "onnxruntime"
    assert select_backend(load_artifact(assets / "tiny.xml"))[0].name == "openvino"
    r = hf("bench", assets / "tiny.onnx", assets / "tiny.xml", "--size", "64x64", "--iterations", "1",
           "--duration", "0")
    assert r.returncode == 0, r.stderr
    assert "tiny.onnx on onnxruntime" in r.stderr and "tiny.xml on openvino" in r.stderr
    pairs = T.write_pairs(tmp_path / "pairs", n=1)
    r = hf("parity", assets / "tiny.xml", "--pairs", pairs, "-r", assets / "tiny.onnx")
    assert r.returncode == 0, r.stderr
    head = r.stdout.splitlines()[0]
    assert "`tiny.xml` (openvino" in head and "`tiny.onnx (onnxruntime)`" in head     # two engines, both named


# 10. lavfi is not live; --max-frames counts written frames (see also tests/test_runtime_live.py)
def test_lavfi_is_not_live_and_max_frames_counts_written(assets):
    from hushframe.runtime.stream import stream_video

    st = stream_video("lavfi:testsrc2=size=64x64:rate=50", assets / "tiny.onnx", None, max_frames=20)
    assert st.dropped == 0 and st.frames_out == 20


# 11. one size order, WIDTHxHEIGHT, everywhere
def test_sizes_are_width_by_height_everywhere(assets, tmp_path):
    import openvino as ov

    r = hf("compile", "openvino", assets / "tiny.onnx", "-o", tmp_path / "fixed.xml", "--shape", "96x64",
           "--no-latency-check")
    assert r.returncode == 0, r.stderr
    shape = ov.Core().read_model(str(tmp_path / "fixed.xml")).inputs[0].get_partial_shape()
    assert [d.get_length() for d in shape] == [1, 3, 64, 96]            # W 96, H 64
    from hushframe.runtime.backends import open_backend

    with open_backend(assets / "tiny.onnx", max_hw=(64, 128)) as be:   # internal (h, w); shown as WxH
        assert "up to 128x64" in be.info.describe()


# 12. bench timing, --version / -h, a readable info, exit codes in stream --help
def test_bench_times_enough_calls_for_its_figures(assets):
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.bench import bench_one

    with open_backend(assets / "tiny.onnx") as be:
        row = bench_one(be, 32, 32, min_seconds=0)
        assert row["iterations"] == 10 and row["latency_ms_p95"] is None      # p95 of 10 calls: not shown
        row = bench_one(be, 32, 32, iterations=20, min_seconds=0)
        assert row["latency_ms_p95"] is not None


def test_version_help_info_and_exit_codes(assets, tmp_path):
    r = hf("--version")
    assert r.returncode == 0 and r.stdout.startswith("hushframe ")
    r = hf("-h")
    assert r.returncode == 0 and "stream" in r.stdout
    r = hf("stream", "-h")
    text = " ".join(r.stdout.split())
    assert r.returncode == 0 and "Exit codes" in text and "3 a live source lost" in text and "4 the output" in text
    r = hf("info", assets / "tiny.onnx")
    assert r.returncode == 0, r.stderr
    assert "input       input float [batch, 3, height, width]" in r.stdout and "parameters" in r.stdout
    assert "multiples of 32" in r.stdout and "precision   fp32" in r.stdout and not r.stdout.lstrip().startswith("{")
    one_line_error(hf("info", tmp_path / "missing.onnx"), 2, "missing.onnx", "no such file")
    from hushframe.runtime.artifact import load_artifact
    from hushframe.runtime.backends import select_backend

    assert "a onnx" not in select_backend(load_artifact(assets / "tiny.onnx"))[1]


# 13. what a SIGKILL loses while streaming a live source
CHILD = r"""
import sys, time
from hushframe.runtime.stream import stream_video
log = open(sys.argv[3], "w", buffering=1)
stream_video("lavfi:testsrc2=size=160x120:rate=25,realtime", sys.argv[1], sys.argv[2], live=True,
             backend="onnxruntime", progress=lambda st: log.write(f"{time.time()} {st.frames_out}\n"))
"""


def _kill_after(model, out: Path, seconds_of_output: float) -> tuple[int, int, int]:
    """Stream live, SIGKILL once ``seconds_of_output`` s of frames were written; return
    (frames written by then, frames written 2 s before the kill, frames the file decodes)."""
    import av

    log = out.with_suffix(".log")
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(model), str(out), str(log)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        t_first = None
        while time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
            rows = log.read_text().split("\n")[:-1] if log.exists() else []
            if rows and t_first is None:
                t_first = float(rows[0].split()[0])
            if t_first is not None and time.time() - t_first >= seconds_of_output:
                break
        assert p.poll() is None, p.stderr.read().decode()[-2000:]
        t_kill = time.time()
        p.send_signal(signal.SIGKILL)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
    rows = [r.split() for r in log.read_text().split("\n")[:-1]]
    written = int(rows[-1][1])
    old = max([int(n) for t, n in rows if float(t) <= t_kill - 2.0] or [0])
    decoded = 0
    if out.exists() and out.stat().st_size:
        try:
            with av.open(str(out)) as c:
                for _ in c.decode(video=0):
                    decoded += 1
        except av.FFmpegError:
            pass   # a truncated tail ends the decode; what decoded before it counts
    return written, old, decoded


@pytest.mark.parametrize("ext,points", [(".mkv", (1.0, 2.5, 4.0)), (".mp4", (1.5, 3.5))])
def test_sigkill_while_streaming_loses_at_most_two_seconds(assets, tmp_path, ext, points):
    for i, after in enumerate(points):
        written, old, decoded = _kill_after(assets / "tiny.onnx", tmp_path / f"live{i}{ext}", after)
        assert written > 0 and old <= decoded <= written, (ext, after, written, old, decoded)


def test_flush_write_errors_are_surfaced(assets):
    from hushframe.runtime.errors import SinkError
    from hushframe.runtime.stream import stream_video

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    with pytest.raises(SinkError, match="disk full"):
        stream_video("lavfi:testsrc2=size=64x64:rate=25", assets / "tiny.onnx", "/dev/full", live=True,
                     flush_interval=0.2, max_frames=200)
