"""The numpy-only floor (core/): progress display and the model provider export/ and runtime/ use."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from hushframe.core.progress import Progress


def test_progress_plain_lines_rate_and_fields():
    out = io.StringIO()
    bar = Progress("teacher", 4, style="auto", unit="it/s", every=3600, file=out)   # StringIO: not a tty -> plain
    assert bar.style == "plain"
    bar.update(1, loss=0.5)
    bar.update(2, loss=0.25)            # within `every`: no line
    bar.update(4, loss=0.125)           # the last: always a line
    bar.note("saved")
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("teacher 1/4, ") and lines[0].endswith("it/s, loss 0.5000")
    assert lines[1].startswith("teacher 4/4, ") and lines[2] == "saved"
    frames = io.StringIO()
    Progress("stream", None, style="plain", unit="fps", noun="frames", file=frames).update(3, dropped=0)
    assert frames.getvalue().startswith("frames 3, ") and frames.getvalue().endswith("fps, dropped 0\n")
    quiet = io.StringIO()
    with Progress("x", None, style="none", file=quiet) as p:
        p.update(3, dropped=1)
        p.note("n")
    assert quiet.getvalue() == "" and not p.enabled
    with pytest.raises(ValueError, match="one of auto, bar, plain, none"):
        Progress("x", style="fancy")


def test_progress_never_loads_rich_without_a_bar():
    code = ("import io, sys; from hushframe.core.progress import Progress; "
            "p = Progress('s', 3, style='plain', file=io.StringIO()); p.update(1, dropped=0); p.close(); "
            "print('rich' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "False", r.stderr


def test_model_provider_from_the_entry_point_and_replaceable(tmp_path):
    import hushframe.core.models as M

    prov = M.model_provider()           # found through pyproject's entry point, not an import
    assert prov.__name__ == "hushframe.toolkit.provider"
    m = M.create_model("student_c", width=8)
    assert M.model_kind(m) == "student"
    from hushframe.toolkit.weights import save_model

    w = save_model(m, tmp_path / "s.safetensors")
    assert M.load_model(w).arch == "student_c"

    class Mine:
        def load(self, path, device="cpu"):
            return ("loaded", str(path))

        def kind(self, model):
            return "student"

        def create(self, arch, **config):
            return arch

    try:
        M.register_model_provider(Mine())
        assert M.load_model("x.safetensors") == ("loaded", "x.safetensors")
        with pytest.raises(TypeError, match="callable load"):
            M.register_model_provider(object())
    finally:
        M.register_model_provider(prov)


def test_torch_backend_runs_a_safetensors_through_the_provider(tmp_path):
    """Plain Python, no CLI: the runtime opens our weights file with no registration call."""
    from hushframe.runtime import testing as T
    from hushframe.toolkit.weights import save_model

    w = save_model(T.tiny_student(seed=0), tmp_path / "tiny.safetensors")
    code = ("import numpy as np; from hushframe.runtime.backends import open_backend; "
            "from hushframe.runtime.frames import denoise_image; import sys; "
            f"be = open_backend({str(w)!r}); "
            "print(denoise_image(be, np.full((40, 48, 3), 100, np.uint8)).shape, "
            "'hushframe.toolkit.cli' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.strip() == "(40, 48, 3) False", r.stderr
