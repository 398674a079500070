"""GPTQ weight rounding (export/gptq.py): its im2col is the conv's, and it beats nearest rounding on the output."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from hushframe.export.gptq import _patches, gptq_codes  # noqa: E402
from hushframe.export.qdq import quantize_weight_per_channel  # noqa: E402


@pytest.mark.parametrize("stride, pads", [((1, 1), (1, 1, 1, 1)), ((2, 2), (0, 0, 1, 1))])
def test_patches_times_weights_is_the_convolution(stride, pads):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 11, 13)).astype(np.float32)
    w = rng.normal(size=(4, 5, 3, 3)).astype(np.float32)
    xp = torch.nn.functional.pad(torch.from_numpy(x)[None], (pads[1], pads[3], pads[0], pads[2]))
    y = torch.nn.functional.conv2d(xp, torch.from_numpy(w), stride=stride)[0].numpy()
    p = _patches(x, 3, 3, stride, pads, 64, np.random.default_rng(5))
    r = np.random.default_rng(5)  # the same draws: rows first, then columns
    ys, xs = r.integers(0, y.shape[1], 64), r.integers(0, y.shape[2], 64)
    assert np.allclose(p @ w.reshape(4, -1).T, y[:, ys, xs].T, atol=1e-4)


@pytest.mark.parametrize("bits", [7, 8])
def test_gptq_codes_reconstruct_the_output_better_than_nearest(bits):
    rng = np.random.default_rng(0)
    d = 8 * 9
    mix = rng.normal(size=(d, d)) * 0.3
    x = rng.normal(size=(6000, d)) @ mix + rng.normal(size=(6000, d))  # correlated inputs, as in a CNN
    w = rng.normal(size=(6, 8, 3, 3)).astype(np.float32)
    q, s = gptq_codes(w, x.T @ x / len(x), bits)
    qn, sn = quantize_weight_per_channel(w, bits)
    assert q.dtype == np.int8 and np.abs(q).max() <= 2 ** (bits - 1) - 1
    assert np.allclose(s, sn)  # the same grid: only the rounding differs

    def out_err(codes, scale):
        return float(np.mean((x @ (w.reshape(6, -1) - codes.reshape(6, -1) * scale[:, None]).T) ** 2))

    assert out_err(q, s) < 0.9 * out_err(qn, sn)


def test_quantize_reports_the_rounding_and_runs(tmp_path):
    from hushframe.export.onnx_export import export_onnx, ort_session
    from hushframe.export.quantize import QuantConfig, quantize_int8_model
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    torch.manual_seed(0)
    path = export_onnx(save_model(create_model("student_c", width=8, levels=2).eval(), tmp_path / "s.safetensors"),
                       tmp_path / "s.onnx")
    crops = (np.random.default_rng(0).integers(0, 256, (8, 3, 32, 32)) / 255).astype(np.float32)
    m = onnx.load(str(path))
    outs = {}
    for rounding in ("gptq", "nearest"):
        q, rep = quantize_int8_model(m, crops, QuantConfig(rounding=rounding, keep_float=()))
        assert rep["weight_rounding"] == rounding
        outs[rounding] = ort_session(q).run(["output"], {"input": crops[:2]})[0]
    ref = ort_session(m).run(["output"], {"input": crops[:2]})[0]
    assert np.abs(outs["gptq"] - ref).mean() < 0.02
    with pytest.raises(Exception, match="rounding"):
        QuantConfig(rounding="stochastic")  # refused when made, before any calibration
