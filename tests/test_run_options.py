"""RunOptions (runtime/options.py): one checked, immutable value for how a model runs, shared by
stream, parity, bench, the CLI and the GStreamer element."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest

from hushframe.runtime.options import PRECISIONS, RunOptions, RunOptionsError


def test_defaults_and_parsing():
    o = RunOptions()
    assert (o.backend, o.device, o.threads, o.tile, o.overlap, o.precision) == ("auto", "auto", None, None, 64, "auto")
    t = RunOptions(backend="ov", device="GPU.1", threads=2, tile="640x360", overlap=0, precision="bf16")
    assert t.tile == (360, 640) and t.to_dict()["tile"] == "640x360"      # (h, w) inside, WxH outside
    assert RunOptions(tile=(64, 128)).tile == (64, 128) and RunOptions(tile="").tile is None
    assert RunOptions(device="cuda:1").device == "cuda:1" and RunOptions(device="AUTO:GPU,CPU").device
    assert set(PRECISIONS) == {"auto", "fp32", "fp16", "bf16"}


@pytest.mark.parametrize("field, value, says", [
    ("backend", "tensorflow", "backend 'tensorflow': one of auto, "),
    ("device", "gpu please", "device 'gpu please'"),
    ("threads", 0, "threads 0: a whole number of at least 1"),
    ("threads", True, "threads True"),
    ("threads", 1.5, "threads 1.5"),
    ("tile", "512", "tile: size '512': expected WIDTHxHEIGHT"),
    ("tile", (0, 64), "tile (0, 64)"),
    ("overlap", -1, "overlap -1"),
    ("precision", "int4", "precision 'int4': one of auto, fp32, fp16, bf16"),
])
def test_one_line_error_naming_the_option(field, value, says):
    with pytest.raises(RunOptionsError) as e:
        RunOptions(**{field: value})
    assert str(e.value).startswith(says) and "\n" not in str(e.value)
    assert e.value.exit_code == 2           # a HushframeError: the CLI prints it as one line


def test_immutable_replace_and_keyword_shorthand():
    o = RunOptions(threads=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.threads = 3
    assert o.replace(backend="onnxruntime") == RunOptions(backend="onnxruntime", threads=2)
    with pytest.raises(RunOptionsError):
        o.replace(overlap=-5)                # a copy is checked like a new one
    assert RunOptions.of(None, tile="64x64").tile == (64, 64) and RunOptions.of(o) is o
    with pytest.raises(TypeError, match="unknown run option"):
        RunOptions.of(o, batch=4)


def test_cli_commands_share_the_options_and_refuse_in_one_line(tmp_path):
    for cmd in (["stream", "x.mp4", "-m", "m.onnx", "--precision", "int4"],
                ["parity", "m.onnx", "--pairs", str(tmp_path), "-r", "m.onnx", "--precision", "int4"],
                ["bench", "m.onnx", "--precision", "int4"]):
        r = subprocess.run([sys.executable, "-m", "hushframe.toolkit.cli.main", *cmd], capture_output=True, text=True)
        assert r.returncode == 2 and "hushframe: error: precision 'int4'" in r.stderr, (cmd, r.stderr)
        assert "Traceback" not in r.stderr


def test_an_engine_that_cannot_choose_refuses_another_precision(tmp_path):
    from hushframe.runtime import testing as T

    onnx = T.export_onnx(T.tiny_student(width=4), tmp_path / "t.onnx")
    from hushframe.runtime.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="runs the fp32 artifact as stored, not at precision bf16"):
        RunOptions(backend="onnxruntime", precision="bf16").open(onnx)
    with RunOptions(backend="onnxruntime", precision="fp32", threads=1).open(onnx) as be:   # its own: fine
        assert be.info.precision == "fp32"
    with RunOptions(backend="openvino", precision="fp32", threads=1).open(onnx) as be:
        assert be.info.detail["inference_precision"].lower() in ("f32", "<type: 'float32'>", "float32")
