"""Quantization-aware fine-tuning (export/int8_finetune.py): its torch interpreter runs our ONNX graphs as
ONNX Runtime does, and fine-tuning changes only the codes, biases and float weights the artifact already holds."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import numpy_helper  # noqa: E402
from hushframe.export.errors import ExportError  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(fp32 model, its INT8 Q/DQ model, calibration crops) of a tiny student C and a tiny CPU student."""
    from hushframe.export.onnx_export import export_onnx
    from hushframe.export.quantize import QuantConfig, quantize_int8_model
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    tmp = tmp_path_factory.mktemp("ft")
    rng = np.random.default_rng(0)
    # Smooth crops with a little noise: frame-like, so activations are not all saturated.
    base = rng.random((16, 3, 8, 8)).astype(np.float32)
    crops = np.clip(np.kron(base, np.ones((1, 1, 8, 8), np.float32)) + rng.normal(0, 0.03, (16, 3, 64, 64)), 0, 1)
    out = {}
    for name, kw in (("student_c", dict(width=8, levels=2)), ("student_cpu", dict(width=8, levels=2))):
        torch.manual_seed(0)
        path = export_onnx(save_model(create_model(name, **kw).eval(), tmp / f"{name}.safetensors"), tmp / f"{name}.onnx")
        m = onnx.load(str(path))
        q, _ = quantize_int8_model(m, crops.astype(np.float32), QuantConfig(target="avx2", keep_float=(), dither="none"))
        out[name] = (m, q)
        q, rep = quantize_int8_model(m, crops.astype(np.float32), QuantConfig(target="avx2", keep_float=()))  # decoder dithered
        assert rep["dither"]["tensors"]
        out[f"{name}_dithered"] = (m, q)
    return out, crops.astype(np.float32)


def _ort(model, x, optimize=True):
    so = ort.SessionOptions()
    if not optimize:  # Q/DQ computed literally in float: what the interpreter reproduces
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(
        ["output"], {"input": x})[0]


@pytest.mark.parametrize("name", ["student_c", "student_cpu", "student_c_dithered"])
def test_interpreter_runs_float_and_qdq_graphs_as_onnx_runtime(tiny, name):
    from hushframe.export.int8_finetune import QDQGraph

    models, crops = tiny
    m, q = models[name]
    x = crops[:4]
    with torch.no_grad():
        yf = QDQGraph(m)(torch.from_numpy(x)).numpy()
        yq = QDQGraph(q)(torch.from_numpy(x)).numpy()
    assert np.abs(yf - _ort(m, x)).max() < 1e-5
    # Float rounding differences may flip a code that sits on a rounding boundary; nothing more.
    d = np.abs(yq - _ort(q, x, optimize=False))
    assert np.median(d) < 1e-6 and d.mean() < 1e-4


def test_finetune_changes_only_what_the_artifact_stores_and_lowers_the_error(tiny):
    from hushframe.export.int8_finetune import finetune_int8

    models, crops = tiny
    m, q = models["student_c"]
    ft, rep = finetune_int8(q, m, crops, steps=60, batch=4, size=32, lr=1e-3)
    assert rep["steps"] == 60 and rep["loss_last"] < rep["loss_first"]
    assert [(n.op_type, list(n.input), list(n.output)) for n in ft.graph.node] == \
        [(n.op_type, list(n.input), list(n.output)) for n in q.graph.node]
    before = {i.name: numpy_helper.to_array(i) for i in q.graph.initializer}
    after = {i.name: numpy_helper.to_array(i) for i in ft.graph.initializer}
    assert before.keys() == after.keys()
    changed = set()
    for k, v in before.items():
        assert after[k].dtype == v.dtype and after[k].shape == v.shape
        if k.endswith("_qscale") or k.endswith("_wscale") or k.endswith("zero"):
            assert np.array_equal(after[k], v), k  # the grid, and so the artifact's form, is fixed
        elif not np.array_equal(after[k], v):
            changed.add(k)
        if v.dtype == np.int8 and k.endswith("_int8"):
            assert np.abs(after[k]).max() <= 63  # target avx2: still 7-bit codes
    assert any(k.endswith("_int8") for k in changed) and changed
    x = crops  # the frames it was tuned on (a random tiny net says nothing about other frames)
    ref = _ort(m, x)
    assert np.mean((_ort(ft, x) - ref) ** 2) < np.mean((_ort(q, x) - ref) ** 2)
    with pytest.raises(ExportError, match="already dithered"):  # its compensation would go stale
        finetune_int8(models["student_c_dithered"][1], m, crops, steps=1)
