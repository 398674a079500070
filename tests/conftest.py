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


@pytest.fixture(scope="session")
def published_student(shared, tmp_path_factory):
    """The published SIDD student C, made once for every test that needs it: imported by the real
    ``hushframe import-weights``, exported to ONNX, and its fp32 outputs on all 60 polyu-dev pairs
    (``ref``: PNGs named as ``hushframe parity --reference-output`` reads them), run by the fastest
    installed CPU engine (OpenVINO pinned to f32, else ONNX Runtime). The anchor-PSNR check, the INT8
    gate and the runtime's parity test all read these: computing them once saves about 90 s of a
    suite that has to fit in 10 minutes on 2 cores. ``torch_output(i)``: PyTorch's float output of the
    imported weights on pair ``i`` (1x3xHxW; no padding at 512x512), computed once for the two checks
    that compare against it, the ONNX export's and the anchor's (~2.5 s a frame on 2 cores)."""
    from types import SimpleNamespace

    from hushframe.export.onnx_export import export_onnx
    from hushframe.runtime.backends.base import available_backends, open_backend
    from hushframe.runtime.frames import denoise_image
    from hushframe.runtime.parity import _safe_name
    from hushframe.core.images import write_image
    from hushframe.core.pairs import find_pairs

    pth = shared / "weights" / "aprrd-student-c-1.00m-sidd.pth"
    if not pth.exists():
        pytest.skip(f"published student C weights not found at {pth}")
    d = tmp_path_factory.mktemp("published")
    weights = d / "student-c.safetensors"
    run_cli("import-weights", pth, "-o", weights)
    onnx_path = export_onnx(weights, d / "student-c.onnx")
    engine = "openvino" if available_backends().get("openvino") == "" else "onnxruntime"
    ref = d / "ref"
    ref.mkdir()
    pairs = find_pairs(shared / "data" / "polyu-dev")
    be = open_backend(onnx_path, backend=engine)
    try:
        for p in pairs:
            write_image(ref / f"{_safe_name(p.name)}.png", denoise_image(be, p.load()[0]))
    finally:
        be.close()
    torch_outputs: dict = {}

    def torch_output(i: int):
        if i not in torch_outputs:
            import torch

            from hushframe.export.sensitivity import pad_image
            from hushframe.toolkit.weights import load_model

            model = load_model(weights).eval()
            with torch.no_grad():
                torch_outputs[i] = model(torch.from_numpy(pad_image(pairs[i].load()[0]))).numpy()
        return torch_outputs[i]

    return SimpleNamespace(weights=weights, onnx=onnx_path, dir=d, ref=ref, engine=engine, pairs=pairs,
                           torch_output=torch_output)


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
