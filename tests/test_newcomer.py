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


# 6. the demo never continues from models other flags made, and a rerun never rewrites silently
# (issue 27: --from-scratch in an earlier demo's folder reused its fine-tuned models)
def test_demo_folder_rules(tmp_path):
    from hushframe.core.errors import OutputPathError
    from hushframe.toolkit.cli.demo_cmd import prepare_folder, what_it_shows

    out = tmp_path / "demo"
    flags = {"from_scratch": False, "teacher_steps": 60, "distill_steps": 60}
    assert prepare_folder(out, False, flags) is False                       # new folder: a new run
    (out / "run" / "teacher.safetensors").write_bytes(b"fine-tuned")
    assert prepare_folder(out, False, flags) is True                        # interrupted, same flags: resumes
    scratch = dict(flags, from_scratch=True)
    with pytest.raises(OutputPathError, match="interrupted demo run started with other flags.*--overwrite"):
        prepare_folder(out, False, scratch)
    assert prepare_folder(out, True, scratch) is False                      # -y: the earlier models are gone
    assert not (out / "run" / "teacher.safetensors").exists()
    (out / "demo-results.json").write_text("{}")
    with pytest.raises(OutputPathError, match="earlier demo run"):
        prepare_folder(out, False, scratch)                                 # finished: refused even with same flags
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(OutputPathError, match="not empty"):
        prepare_folder(tmp_path / "mine", False, flags)
    cap = what_it_shows(60, 60, True)
    assert "left to right" in cap and "from random weights" in cap and "60 teacher + 60 distillation steps" in cap


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
src = sys.argv[4] if len(sys.argv) > 4 else "lavfi:testsrc2=size=160x120:rate=25,realtime"
flush = float(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[5] != "default" else None
stream_video(src, sys.argv[1], sys.argv[2], live=None if len(sys.argv) > 4 else True, flush_interval=flush,
             backend="onnxruntime", progress=lambda st: log.write(f"{time.time()} {st.frames_out}\n"))
"""


def _kill_after(model, out: Path, seconds_of_output: float, source=None, flush="default") -> tuple[int, int, int]:
    """Stream (live lavfi, or ``source`` with the flags a user gives: none), SIGKILL once
    ``seconds_of_output`` s of frames were written; return (frames written by then, frames written 2 s
    before the kill, frames the file decodes)."""
    import av

    log = out.with_suffix(".log")
    extra = [str(source), str(flush)] if source is not None else []
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(model), str(out), str(log), *extra], stderr=subprocess.PIPE)
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


# ---------------------------------------------------------------- issue 27: what a new user tried
@pytest.fixture(scope="module")
def long_clip(assets):
    """A file source that takes the tiny model many seconds: 1500 frames, with audio (as a user's clip)."""
    frames = T.smooth_frames(6, 120, 160, seed=5)
    return T.write_clip(assets / "long.mp4", [frames[i % 6] for i in range(1500)], fps=25)


# 9. a file source to .mkv with no flags: every frame older than about 2 s is in the file and plays
# (it lost everything: 170 frames written, 0 decodable after 30 s); likewise a fragmented .mp4
@pytest.mark.parametrize("ext,flush,points", [(".mkv", "default", (1.0, 3.0)), (".mp4", "1", (2.0,))])
def test_sigkill_of_a_file_source_loses_at_most_two_seconds(assets, long_clip, tmp_path, ext, flush, points):
    for i, after in enumerate(points):
        written, old, decoded = _kill_after(assets / "tiny.onnx", tmp_path / f"file{i}{ext}", after, long_clip, flush)
        assert written > 0 and old <= decoded <= written, (ext, after, written, old, decoded)


# 8. "outputs are written atomically": a killed file -> plain .mp4 left a broken file under the final name
def test_sigkill_of_a_plain_mp4_leaves_no_broken_file(assets, long_clip, tmp_path):
    out = tmp_path / "clean.mp4"
    _kill_after(assets / "tiny.onnx", out, 1.0, long_clip)
    assert not out.exists()                                   # nothing under the name (a hidden partial file only)
    assert [p.name for p in tmp_path.glob(".clean.partial-*.mp4")]
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", tmp_path / "done.mp4", "--progress", "none")
    assert r.returncode == 0 and len(T.read_clip(tmp_path / "done.mp4")[0]) == 6, r.stderr
    assert not list(tmp_path.glob(".done.partial-*"))         # complete: renamed into place, nothing left


# 4. corrupt artifacts: one line naming the file, a non-zero exit, no TensorFlow log lines from OpenVINO
def test_corrupt_artifacts_are_one_line(tmp_path):
    (tmp_path / "fake.onnx").write_text("garbage\n")
    (tmp_path / "fake.xml").write_text("<net>garbage\n")
    (tmp_path / "fake.bin").write_bytes(b"\0" * 16)
    for cmd, name in (("info", "fake.onnx"), ("info", "fake.xml"), ("backends", "fake.onnx"), ("backends", "fake.xml")):
        r = hf(cmd, tmp_path / name)
        err = one_line_error(r, 2, name)
        assert "not an ONNX model" in err or "not an OpenVINO IR" in err, err
        assert r.stderr.strip() == err, r.stderr                # nothing else: no absl/TensorFlow lines
    r = hf("stream", tmp_path / "fake.onnx", "-m", tmp_path / "fake.xml")
    assert r.stderr.strip().startswith("hushframe: error: ") and r.returncode == 2, r.stderr


def test_backends_loads_the_artifact_before_saying_ok(assets):
    r = hf("backends", assets / "tiny.onnx")
    assert r.returncode == 0 and "onnxruntime  ok" in r.stdout and "auto -> onnxruntime" in r.stdout, r.stdout


# 5. help examples are copied into a shell: no zero-width or other invisible characters, examples indented
def test_help_pages_have_no_invisible_characters():
    import unicodedata

    import typer
    from typer.testing import CliRunner

    from hushframe.toolkit.cli.main import app

    def pages(cmd, path):
        yield path
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from pages(sub, path + [name])

    runner, seen, examples = CliRunner(), 0, 0
    for path in pages(typer.main.get_command(app), []):
        out = runner.invoke(app, path + ["--help"], env={"COLUMNS": "100"}).output
        odd = sorted({f"U+{ord(c):04X}" for c in out if unicodedata.category(c) in ("Cf", "Cc", "Co", "Cn", "Zl", "Zp")
                      and c != "\n" or (unicodedata.category(c) == "Zs" and c != " ")})
        assert not odd, (" ".join(["hushframe", *path, "--help"]), odd)
        for line in out.splitlines():
            if line.lstrip(" │").startswith("hushframe ") and "Usage" not in line:
                examples += 1
                assert line.lstrip(" │")[:10] == "hushframe ", repr(line)
        seen += 1
    assert seen >= 16 and examples >= 16, (seen, examples)


# 6. an unknown extension is refused with the extensions that work (it became a folder out.xyz/)
def test_unknown_output_extension_is_refused(assets, tmp_path):
    err = one_line_error(hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", tmp_path / "out.xyz"), 4,
                         "out.xyz", "'.xyz'", ".mkv", ".mp4", ".png")
    assert not (tmp_path / "out.xyz").exists(), err
    r = hf("stream", assets / "clip.mp4", "-m", assets / "tiny.onnx", "-o", str(tmp_path / "frames.v2") + "/",
           "--progress", "none")
    assert r.returncode == 0 and len(list((tmp_path / "frames.v2").glob("*.png"))) == 6, r.stderr   # a folder, said so
    one_line_error(hf("export", assets / "tiny.safetensors", "-o", tmp_path / "x.xyz"), 2, "x.xyz", ".onnx")
    one_line_error(hf("quantize", assets / "tiny.onnx", "-o", tmp_path / "q.xyz"), 2, "q.xyz", ".onnx")
    assert not list(tmp_path.glob("?.xyz*"))


# 7. quantize says what it does, and small calibration frames just work (or a plain instruction)
def test_quantize_progress_and_small_frames(assets, tmp_path):
    from hushframe.core.images import write_image

    frames = tmp_path / "small"
    frames.mkdir()
    for i, f in enumerate(T.smooth_frames(2, 120, 160, seed=9)):   # smaller than the default 256-px crops
        write_image(frames / f"f{i}.png", f)
    out = tmp_path / "q.onnx"
    r = hf("quantize", assets / "tiny.onnx", "-c", frames, "-o", out, "--num-crops", "32")
    assert r.returncode == 0, r.stderr
    stages = [ln for ln in r.stderr.splitlines() if ln.startswith("quantize: ")]
    assert any("ranges" in ln and "32/32" in ln for ln in stages), r.stderr
    assert json.loads(Path(f"{out}.manifest.json").read_text())["source"]["calibration"]["crop_size"] == 96
    one_line_error(hf("quantize", assets / "tiny.onnx", "-c", frames, "-o", tmp_path / "q2.onnx", "--num-crops", "32",
                      "--crop-size", "256"), 2, "--crop-size 96", "120 px")


# 8. parity finds its reference from the manifests, and says which it used
def test_parity_takes_its_reference_from_the_manifests(assets, tmp_path):
    import shutil

    pairs = T.write_pairs(tmp_path / "pairs", n=1)
    r = hf("parity", assets / "tiny.xml", "--pairs", pairs)
    assert r.returncode == 0, r.stderr
    assert "reference: " in r.stderr and "tiny.xml <- tiny.onnx <- tiny.safetensors" in r.stderr, r.stderr
    assert "vs `tiny.safetensors (torch)`" in r.stdout.splitlines()[0]
    # a source changed since the artifact was made is not its reference
    d = tmp_path / "moved"
    d.mkdir()
    for f in ("tiny.onnx", "tiny.onnx.manifest.json"):
        shutil.copy(assets / f, d / f)
    (d / "tiny.safetensors").write_bytes(b"retrained since")
    doc = json.loads((d / "tiny.onnx.manifest.json").read_text())
    doc["source"]["weights"] = "tiny.safetensors"                     # relative: found beside the artifact
    (d / "tiny.onnx.manifest.json").write_text(json.dumps(doc))
    one_line_error(hf("parity", d / "tiny.onnx", "--pairs", pairs), 2, "tiny.safetensors changed since", "--reference")


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_flushed_file_keeps_up_with_a_slow_engine(long_clip, assets, tmp_path, ext):
    """A slow engine (here: a slow consumer) starves the source's audio: libavformat then held up to 10 s of
    video waiting to interleave it (a 30 s kill of a fragmented .mp4 lost 3 s). Every written frame but the
    last two must be in the file as it grows."""
    import av

    from hushframe.runtime.stream import stream_video

    out, seen = tmp_path / f"slow{ext}", []

    def check(st):
        time.sleep(0.1)
        n = 0
        try:
            with av.open(str(out)) as c:
                for _ in c.decode(video=0):
                    n += 1
        except av.FFmpegError:
            pass
        seen.append((st.frames_out, n))

    stream_video(long_clip, assets / "tiny.onnx", out, flush_interval=1.0 if ext == ".mp4" else None, max_frames=30,
                 progress=check)
    assert all(n >= written - 2 for written, n in seen), seen
