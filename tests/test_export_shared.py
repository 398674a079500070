"""The published student C on ../shared: real-frame parity of the ONNX export and the INT8 accuracy bar.

Subset for speed: every third polyu-dev pair (20 images); the full 60-image figures are computed
by benchmarks/export_latency.py. Calibration: 32 crops (256x256, seed 0) of polyu-train-noisy.
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.shared

onnx = pytest.importorskip("onnx", reason="onnx not installed")
torch = pytest.importorskip("torch", reason="torch not installed")
pytest.importorskip("onnxruntime", reason="onnxruntime not installed")

INT8_BAR_DB = 0.10


@pytest.fixture(scope="module")
def published(shared, tmp_path_factory):
    from hushframe.export.onnx_export import export_onnx
    from hushframe.toolkit.weights import convert_foreign, detect_layout, read_foreign_checkpoint, save_model

    pth = shared / "weights" / "aprrd-student-c-1.00m-sidd.pth"
    if not pth.exists():
        pytest.skip(f"published student C weights not found at {pth}")
    d = tmp_path_factory.mktemp("published")
    state = read_foreign_checkpoint(pth)
    model = convert_foreign(state, detect_layout(state), pth).eval()
    w = save_model(model, d / "student-c.safetensors")
    return model, export_onnx(w, d / "student-c.onnx"), d


@pytest.fixture(scope="module")
def subset(shared):
    from hushframe.toolkit.data.pairs import find_pairs

    return [p.load() for p in find_pairs(shared / "data" / "polyu-dev")[::3]]


def test_onnx_matches_pytorch_on_real_frames(published, subset):
    from hushframe.export.onnx_export import ort_session
    from hushframe.export.sensitivity import pad_image

    model, onnx_path, _ = published
    sess = ort_session(onnx_path)
    for noisy, _ in subset[:3]:
        x = pad_image(noisy)
        with torch.no_grad():
            ref = model(torch.from_numpy(x)).numpy()
        assert np.abs(sess.run(["output"], {"input": x})[0] - ref).max() <= 1e-4


def test_int8_within_0_10_db_of_fp32_on_polyu_dev_subset(published, subset, shared):
    from hushframe.export.quantize import quantize
    from hushframe.export.sensitivity import psnr_on_pairs

    _, onnx_path, d = published
    int8 = quantize(onnx_path, d / "student-c-int8.onnx", "int8", shared / "data" / "polyu-train-noisy")
    fp32_db = psnr_on_pairs(onnx.load(str(onnx_path)), subset)
    int8_db = psnr_on_pairs(onnx.load(str(int8)), subset)
    print(f"\npolyu-dev subset (20 pairs): fp32 {fp32_db:.3f} dB, int8 {int8_db:.3f} dB, drop {fp32_db - int8_db:.3f} dB")
    assert fp32_db - int8_db <= INT8_BAR_DB
