import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli


def test_help_is_instant_and_imports_no_torch():
    code = ("import sys; from hushframe.toolkit.cli.main import app; "
            "heavy=[m for m in ('torch','onnx','openvino','av','onnxruntime') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
    r = run_cli("--help")
    for cmd in ("train", "distill", "eval", "import-weights", "demo"):
        assert cmd in r.stdout


@pytest.mark.parametrize("cmd", ["train", "distill", "eval", "import-weights", "demo"])
def test_every_command_has_examples(cmd):
    r = run_cli(cmd, "--help")
    assert "hushframe " + cmd.split()[0] in r.stdout or "Example" in r.stdout


def _all_commands(t, prefix=()):
    for c in t.registered_commands:
        yield prefix + (c.name,)
    for g in t.registered_groups:
        if isinstance(g.name, str):
            yield prefix + (g.name,)
        yield from _all_commands(g.typer_instance, prefix + ((g.name,) if isinstance(g.name, str) else ()))


def test_help_prose_reflows_and_examples_keep_their_indent():
    """At 80 columns prose wraps as one paragraph (not at the source's line breaks) and the indented
    example lines stay indented (Typer's dedent once stripped them where every line after the first
    paragraph was an example)."""
    import re

    from typer.testing import CliRunner

    from hushframe.toolkit.cli.help_text import INDENT_GUARD as G
    from hushframe.toolkit.cli.help_text import dedent_docstring, reflow
    from hushframe.toolkit.cli.main import app

    assert reflow(dedent_docstring("Sum.\n\n    prose a\n    prose b\n\n      hushframe x\n\n      hushframe y\n    ")) == \
        f"Sum.\n\nprose a prose b\n\n{G}  hushframe x\n\n  hushframe y"
    assert reflow(dedent_docstring("Sum.\n\n      hushframe x\n    ")) == f"Sum.\n\n{G}  hushframe x"
    assert reflow("Sum.\n\nprose\n\nExamples:\n\n  a\n  b\n\n- one\n- two") == "Sum.\n\nprose\n\nExamples:\n\n  a\n  b\n\n- one\n- two"
    runner, checked = CliRunner(), 0  # every command, with an example each
    for cmd in _all_commands(app):
        r = runner.invoke(app, [*cmd, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
        assert r.exit_code == 0, (cmd, r.output)
        examples = [ln for ln in r.output.splitlines() if re.match(r"^\s*hushframe [a-z]", ln)]
        assert all(re.match(r"^   hushframe ", ln) for ln in examples), (cmd, examples)   # copied, they run
        assert examples or re.search(r"^   GST_PLUGIN_PATH=", r.output, re.M), (cmd, "no example")
        checked += 1
    assert checked >= 15, checked


def _paired(tmp_path, n=2, size=40):
    d = tmp_path / "pairs"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        clean = rng.integers(60, 200, (size, size + 8, 3), dtype=np.uint8)
        noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(d / f"im{i}_real.png")
        Image.fromarray(clean).save(d / f"im{i}_mean.png")
    return d


def test_train_distill_eval_chain_on_cpu(tmp_path):
    pairs = _paired(tmp_path)
    common = ["--recipe", "quick-cpu", "--iterations", "2", "--width", "4", "--crop", "32", "--batch", "2",
              "--set", "teacher.levels=2" if True else ""]
    run_cli("train", pairs, "-o", tmp_path / "run", *common, "--val", pairs)
    assert (tmp_path / "run" / "teacher.safetensors").exists()
    run_cli("distill", pairs, "-t", tmp_path / "run" / "teacher.safetensors", "-o", tmp_path / "run", "--recipe", "quick-cpu",
            "--iterations", "2", "--width", "4", "--crop", "32", "--batch", "2", "--set", "distill.levels=2")
    r = run_cli("eval", tmp_path / "run" / "student.safetensors", "--pairs", pairs, "-o", tmp_path / "ev")
    res = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert res["images"] == 2 and "psnr" in res["model"] and (tmp_path / "ev" / "strip.png").exists()
    run_cli("eval", tmp_path / "run" / "teacher.safetensors", "--pairs", pairs, "--sweep", "0,1,3,5", "-o", tmp_path / "sw")
    sw = json.loads((tmp_path / "sw" / "results.json").read_text())
    assert [r["label"] for r in sw["sweep"]] == [f"teacher k_b={k}" for k in (0, 1, 3, 5)]
    assert (tmp_path / "sw" / "sweep.png").stat().st_size > 1000


def test_eval_errors_are_one_line(tmp_path):
    r = run_cli("eval", tmp_path / "missing.safetensors", "--pairs", tmp_path, check=False)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "missing.safetensors" in r.stderr
    (tmp_path / "w.safetensors").write_bytes(b"junk")
    r = run_cli("eval", tmp_path / "w.safetensors", "--pairs", tmp_path, check=False)
    assert r.returncode == 2 and "w.safetensors" in r.stderr and "Traceback" not in r.stderr
