"""No torch on the device: a fresh virtual environment with ``hushframe[runtime-onnx]`` only
(numpy, pillow, typer, rich, PyAV, onnxruntime) streams a clip and runs the parity gate from
reference outputs.

The environment is a plain ``python -m venv`` (no system site-packages, so the torch of the
test machine is invisible), kept in a cache folder between runs ($HUSHFRAME_TEST_CACHE,
default ~/.cache/hushframe) with pip's own download cache; hushframe itself is installed
from a wheel built here, with its extras resolved by pip from pyproject.toml.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from hushframe.runtime import testing as T

ROOT = Path(__file__).resolve().parents[1]
EXTRA = "runtime-onnx"


def _run(cmd, timeout=900, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    return r


def _pins() -> list[str]:
    """Pin the engine and PyAV to the versions of this machine (reuses pip's cache, same behaviour)."""
    out = []
    for n in ("onnxruntime", "av", "numpy", "opencv-python-headless"):
        try:
            out.append(f"{n}=={metadata.version(n)}")
        except metadata.PackageNotFoundError:
            pass
    return out


@pytest.fixture(scope="module")
def runtime_env(tmp_path_factory):
    cache = Path(os.environ.get("HUSHFRAME_TEST_CACHE", Path.home() / ".cache" / "hushframe"))
    key = hashlib.sha256((sys.version + EXTRA + " ".join(_pins())).encode()).hexdigest()[:12]
    env_dir = cache / f"venv-{EXTRA}-{key}"
    py = env_dir / "bin" / "python"
    wheels = tmp_path_factory.mktemp("wheel")
    r = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, ROOT])
    if r.returncode != 0:
        pytest.fail(f"cannot build the hushframe wheel: {r.stderr[-2000:]}")
    wheel = next(wheels.glob("hushframe-*.whl"))
    if not py.exists():
        env_dir.parent.mkdir(parents=True, exist_ok=True)
        venv.EnvBuilder(with_pip=True, system_site_packages=False, clear=True).create(env_dir)
    r = _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--force-reinstall", "--no-deps", wheel])
    assert r.returncode == 0, r.stderr[-2000:]
    r = _run([py, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"{wheel}[{EXTRA}]", *_pins()])
    if r.returncode != 0:
        if "Could not find a version" in r.stderr or "NewConnectionError" in r.stderr or "Network" in r.stderr:
            pytest.skip(f"no package index reachable to build the runtime venv: {r.stderr.strip().splitlines()[-1]}")
        pytest.fail(r.stderr[-2000:])
    return env_dir


@pytest.mark.slow
def test_runtime_only_venv_streams_and_gates_without_torch(runtime_env, tmp_path):
    py = runtime_env / "bin" / "python"
    hf = runtime_env / "bin" / "hushframe"
    r = _run([py, "-c", "import importlib.util as u; print([m for m in ('torch', 'openvino', 'onnx', 'scipy') "
                        "if u.find_spec(m)])"])
    assert r.stdout.strip() == "[]", r.stdout + r.stderr          # the engine only: no torch, no exporter
    # artifacts made on the training side (this interpreter has torch)
    from hushframe.runtime.backends import open_backend
    from hushframe.runtime.frames import denoise_image
    from hushframe.core.pairs import find_pairs
    from hushframe.core.images import write_image

    model = T.export_onnx(T.tiny_student(seed=0), tmp_path / "tiny.onnx")
    clip = T.write_clip(tmp_path / "clip.mp4", T.smooth_frames(8, 64, 96, seed=2), fps=10)
    pairs = T.write_pairs(tmp_path / "pairs", n=2)
    ref = tmp_path / "ref"
    ref.mkdir()
    with open_backend(model, backend="onnxruntime") as be:
        for p in find_pairs(pairs):
            write_image(ref / f"{p.name}.png", denoise_image(be, p.load()[0]))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    r = _run([hf, "stream", clip, "-m", model, "-o", tmp_path / "out.mp4", "--progress", "none"], env=env,
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "backend: onnxruntime" in r.stderr and "8 frames" in r.stderr
    frames, _, counts = T.read_clip(tmp_path / "out.mp4")
    assert len(frames) == 8 and counts.get("audio", 0) > 0
    r = _run([hf, "parity", model, "--pairs", pairs, "--reference-output", ref, "-o", tmp_path / "gate"], env=env,
             cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout and (tmp_path / "gate.json").exists()
    r = _run([py, "-c", "import sys, hushframe.runtime.cli, hushframe.runtime.stream, hushframe.runtime.parity; "
                        "print('torch' in sys.modules)"], env=env)
    assert r.stdout.strip() == "False", r.stderr
    # the Python API of a non-editable install without torch: the frame `hushframe stream` writes
    write_image(tmp_path / "odd.png", T.smooth_frames(1, 50, 70, seed=6)[0])
    r = _run([hf, "stream", tmp_path / "odd.png", "-m", model, "-o", tmp_path / "odd-out.png", "--progress", "none"],
             env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    code = ("import sys, numpy as np, hushframe\n"
            "from PIL import Image\n"
            "from hushframe import Denoiser\n"
            "with Denoiser(sys.argv[1]) as d:\n"
            "    out = d(np.asarray(Image.open('odd.png').convert('RGB')))\n"
            "np.save('api-out.npy', out)\n"
            "print(hushframe.__version__, 'torch' in sys.modules)")
    r = _run([py, "-c", code, model], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    from hushframe.core.images import read_uint8

    assert r.stdout.split() == [metadata.version("hushframe"), "False"], r.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "api-out.npy"), read_uint8(tmp_path / "odd-out.png"))
