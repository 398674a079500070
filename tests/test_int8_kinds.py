"""INT8 activation kinds: the image is never coarsely quantized, ReLU outputs use unsigned codes on CPUs."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from hushframe.toolkit.models import create_model  # noqa: E402
from hushframe.toolkit.weights import save_model  # noqa: E402


@pytest.fixture(scope="module")
def cpu_student_onnx(tmp_path_factory):
    from hushframe.export.onnx_export import export_onnx

    d = tmp_path_factory.mktemp("kinds")
    torch.manual_seed(0)
    m = create_model("student_cpu", width=8, levels=1, unshuffle=2, convs=1).eval()
    torch.nn.init.normal_(m.tail.weight, std=0.05)
    return export_onnx(save_model(m, d / "s.safetensors"), d / "s.onnx")


def _crops(n=32, size=32):
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (n, 3, size, size)) / 255).astype(np.float32)


def _zero_point_types(model) -> dict[str, str]:
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    # a dithered tensor t is quantized as t + pattern, named t_dithered (export/dither.py)
    return {n.input[0].removesuffix("_dithered"): str(numpy_helper.to_array(inits[n.input[2]]).dtype)
            for n in model.graph.node if n.op_type == "QuantizeLinear"}


def test_unshuffled_image_conv_reads_the_image_exactly_and_relu_outputs_are_unsigned_on_cpu(cpu_student_onnx):
    """The pixel-unshuffled image feeds the first conv through Reshape/Transpose only: it is the image
    (once quantized with a signed scale over [-1.5, 1.5], ~3 grey levels a step: a CPU student lost
    0.33 dB). On a CPU target it is read exactly (unsigned, scale 1/255) or, with --image-convs float,
    the head stays float; for gpu it stays float. ReLU outputs are non-negative by construction:
    unsigned codes, twice the resolution."""
    from hushframe.export.graph import image_tensors, nonnegative_tensors
    from hushframe.export.qdq import qdq_violations
    from hushframe.export.quantize import QuantConfig, quantize_int8_model

    model = onnx.load(str(cpu_student_onnx))
    images = image_tensors(model)
    heads = [n.name for n in model.graph.node if n.op_type == "Conv" and n.input[0] in images]
    assert len(heads) == 1 and heads[0] != "input"
    f, rep_f = quantize_int8_model(model, _crops(), QuantConfig(keep_float=(), target="avx2", image_convs="float"))
    assert heads[0] in rep_f["float_convs"] and heads[0] not in rep_f["int8_convs"]
    q, rep = quantize_int8_model(model, _crops(), QuantConfig(keep_float=(), target="avx2"))  # --image-convs auto
    assert heads[0] in rep["int8_convs"] and rep["image_convs"] == "auto"
    kinds = rep["activation_kinds"]
    relus = nonnegative_tensors(model)
    assert "image" in kinds.values()
    assert all(kinds[t] == ("image" if t in images else "u8" if t in relus else "s8") for t in kinds)
    assert any(k == "u8" for k in kinds.values())
    assert {t: z for t, z in _zero_point_types(q).items()} == {t: ("int8" if k == "s8" else "uint8") for t, k in kinds.items()}
    g, rep_g = quantize_int8_model(model, _crops(), QuantConfig(keep_float=(), target="gpu"))
    assert heads[0] in rep_g["float_convs"] and rep_g["image_convs"] == "float"
    assert set(rep_g["activation_kinds"].values()) == {"s8"} and qdq_violations(g) == []


def test_image_kind_is_exact_for_8bit_frames():
    """Scale 1/255, unsigned: every k/255 survives Quantize -> Dequantize (what an image conv reads)."""
    from hushframe.export.qdq import act_qparams

    scale, zero = act_qparams("image", 1.0)
    x = (np.arange(256) / 255).astype(np.float32)
    q = np.clip(np.rint(x / scale), 0, 255).astype(zero.dtype)
    assert np.array_equal(q, np.arange(256)) and np.abs(q * scale - x).max() < 1e-7
    with pytest.raises(ValueError, match="activation kind"):
        act_qparams("u4", 1.0)

