import os
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HUSHFRAME_SHARED", ROOT.parent / "shared"))


def pytest_report_header(config):
    from hushframe.runtime.cpu_isa import describe_cpu  # INT8 results depend on it (export/README.md)

    return [f"shared material: {SHARED if SHARED.exists() else 'absent (tests marked shared will skip)'}",
            f"CPU instruction sets: {describe_cpu()}"]


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "data" / "polyu-dev").is_dir():
        pytest.skip(f"needs ../shared (PolyU data, published weights): not found at {SHARED}")
    return SHARED


@pytest.fixture(autouse=True, scope="session")
def _threads():
    try:
        import torch

        torch.set_num_threads(2)
    except ImportError:
        pass


def run_cli(*args, check=True, env=None, timeout=600):
    """Run the real console entry point in a subprocess; returns CompletedProcess."""
    import subprocess

    e = dict(os.environ)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "hushframe.toolkit.cli.main", *map(str, args)], capture_output=True,
                       text=True, env=e, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"hushframe {' '.join(map(str, args))} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def default_sigint():
    """``preexec_fn`` for children a test stops with Ctrl-C (SIGINT): a shell starts background jobs
    with SIGINT ignored, a child inherits that, and Python then never raises KeyboardInterrupt (CI run
    in the background once saw `hushframe stream --live` go on writing frames after the signal)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
