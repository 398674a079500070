"""Subtractive ordered dither of INT8 activations (export/dither.py): exact in float, decoder only."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def student_c(tmp_path_factory):
    """(fp32 model, INT8 model without dither, INT8 model with the default dither, report) of a tiny student C."""
    from hushframe.export.onnx_export import export_onnx
    from hushframe.export.quantize import QuantConfig, quantize_int8_model
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    tmp = tmp_path_factory.mktemp("dither")
    torch.manual_seed(0)
    path = export_onnx(save_model(create_model("student_c", width=8, levels=2).eval(), tmp / "c.safetensors"), tmp / "c.onnx")
    m = onnx.load(str(path))
    crops = np.random.default_rng(0).random((32, 3, 32, 32), dtype=np.float32)
    # the image part of the split decoder conv stays float where it carries the dither's compensation
    # (--image-convs auto): the undithered model keeps it float too, so the two differ only by the dither
    # the avx2 recipe (the vnni/amx recipes dither the image concat instead: tests/test_int8_targets.py)
    plain, _ = quantize_int8_model(m, crops, QuantConfig(target="avx2", keep_float=("/unet/dec1/conv1/conv/Conv_input_part",),
                                                         dither="none"))
    dithered, rep = quantize_int8_model(m, crops, QuantConfig(target="avx2", keep_float=()))
    return m, plain, dithered, rep


def test_every_mode_removes_its_pattern_exactly(student_c):
    """The decoder and all-tensors modes add compensation convs (and sums) after plain int8 convs."""
    from hushframe.export.dither import add_dither, dither_tensors

    _, plain, _, rep = student_c
    x = np.random.default_rng(2).random((1, 3, 20, 28), dtype=np.float32)
    a = _run(_without_activation_rounding(plain), x)
    for mode in ("decoder", "all"):
        d = add_dither(plain, dither_tensors(plain, rep["activation_kinds"], mode))
        assert any(n.name.endswith("_undither") for n in d.graph.node)
        assert np.abs(_run(_without_activation_rounding(d), x) - a).max() < 1e-5, mode


def _run(model, x):
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(["output"], {"input": x})[0]


def _without_activation_rounding(model):
    """The same graph with every activation QuantizeLinear -> DequantizeLinear pair removed."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    qs = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "QuantizeLinear"}
    dqs = {n.output[0]: qs[n.input[0]] for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in qs}
    keep = [n for n in m.graph.node if n.output[0] not in qs and n.output[0] not in dqs]
    for n in keep:
        for i, t in enumerate(n.input):
            if t in dqs:
                n.input[i] = dqs[t]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def test_the_pattern_is_removed_exactly_after_each_conv(student_c):
    """Without the rounding in between, Conv(x + d) - Conv(d) must be Conv(x): at the borders (the
    pattern is zero-padded like x), through the float image conv that carries one compensation, for
    a batch, and at sizes whose deepest level is not a multiple of the 4x4 tile."""
    _, plain, dithered, rep = student_c
    assert rep["dither"]["mode"] == "last" and rep["dither"]["tensors"]
    x = np.random.default_rng(1).random((2, 3, 36, 20), dtype=np.float32)
    a = _run(_without_activation_rounding(plain), x)
    b = _run(_without_activation_rounding(dithered), x)
    assert np.abs(a - b).max() < 1e-5
    # and with the rounding, a dithered model is still the same network, a rounding error away
    assert np.abs(_run(dithered, x) - _run(plain, x)).mean() < 0.02


def test_only_the_decoder_is_dithered_and_never_the_image(student_c):
    from hushframe.export.dither import decoder_tensors, dither_tensors, spatial_scales

    _, plain, dithered, rep = student_c
    dec = decoder_tensors(plain)
    kinds = rep["activation_kinds"]
    quantized = {n.input[0] for n in plain.graph.node if n.op_type == "QuantizeLinear"}
    in_decoder = {t for t in quantized if t in dec and kinds.get(t) != "image"}
    assert set(dither_tensors(plain, kinds, "decoder")) == in_decoder
    assert in_decoder < quantized  # the encoder's tensors carry the frame's noise already
    # the default: the decoder's finest level only (here the input of the full-resolution decoder conv)
    sc = spatial_scales(plain)
    assert rep["dither"]["tensors"] and all(sc[t] == 1.0 for t in rep["dither"]["tensors"])
    assert set(rep["dither"]["tensors"]) == {t for t in in_decoder if sc[t] == 1.0}
    assert "input" not in rep["dither"]["tensors"]
    # the compensation for the conv beside the image is one more input channel of the float image conv
    assert any(n.name.endswith("_dither_Concat") for n in dithered.graph.node)


def test_dither_mode_is_checked_and_gpu_is_left_undithered(student_c):
    from hushframe.export.dither import resolve_mode
    from hushframe.export.errors import ExportError

    assert resolve_mode("auto", "avx2") == "last" and resolve_mode("auto", "gpu") == "none"
    with pytest.raises(ExportError, match="--dither 'sometimes'"):
        resolve_mode("sometimes", "avx2")


def test_flat_regions_no_longer_share_one_rounding_error():
    """What the dither is for, on one conv: a constant input a quarter step off the grid. Rounded
    alone, every pixel makes the same error (a bias of 1/4 step); dithered, the errors average out
    over each 4x4 tile (the interior's mean error is ~0)."""
    from onnx import TensorProto, helper, numpy_helper

    from hushframe.export.dither import add_dither

    w = np.ones((1, 1, 3, 3), np.float32) / 9
    step = np.float32(0.1)
    g = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["xq"], name="q"),
         helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["xd"], name="dq"),
         helper.make_node("Conv", ["xd", "w"], ["output"], name="conv", pads=[1, 1, 1, 1])],
        "one_conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 16, 16])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, 16, 16])],
        [numpy_helper.from_array(np.array(step), "s"), numpy_helper.from_array(np.array(0, np.int8), "z"),
         numpy_helper.from_array(w, "w")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    x = np.full((1, 1, 16, 16), 0.3 + step / 4, np.float32)
    exact = 0.3 + step / 4
    run = lambda model: ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).run(
        ["output"], {"x": x})[0][0, 0, 2:-2, 2:-2]
    assert abs(run(m).mean() - exact) > step / 5
    assert abs(run(add_dither(m, ["x"])).mean() - exact) < step / 20


def test_the_pattern_has_every_level_in_each_block_and_no_4x4_period():
    """Each 4x4 block holds all 16 levels and each 2x2 sub-block four levels 4 apart (so a nearest 2x
    upsampled tensor's 2x2 blocks of one value still round evenly), while the 16 phases of a 4x4 grid
    no longer each carry one level (the fixed texture a single Bayer tile left: export/README.md)."""
    from hushframe.export.dither import TILE, unit_pattern

    p = unit_pattern()
    assert p.shape == (TILE, TILE) and -0.5 < p.min() and p.max() < 0.5 and abs(p.mean()) < 1e-6
    lv = np.rint((p + 0.5) * 16 - 0.5).astype(int)
    blocks = lv.reshape(TILE // 4, 4, TILE // 4, 4).transpose(0, 2, 1, 3).reshape(-1, 16)
    assert all(sorted(b) == list(range(16)) for b in blocks)
    quads = lv.reshape(TILE // 2, 2, TILE // 2, 2).transpose(0, 2, 1, 3).reshape(-1, 4)
    assert all(sorted(q % 4) == [q[0] % 4] * 4 and len(set(q)) == 4 for q in quads)
    phase_levels = {(i, j): set(lv[i::4, j::4].ravel()) for i in range(4) for j in range(4)}
    assert all(len(v) > 8 for v in phase_levels.values())
    assert np.array_equal(unit_pattern(), p)  # deterministic: the same artifact from the same inputs


def test_narrow_float_convs_are_rewritten_for_8_wide_kernels_exactly(student_c):
    """Step 9 of the recipe: a float 3x3 conv with 3 outputs (student C's last) becomes 27 taps, a
    one-hot depthwise shift and a sum; a narrow 1x1 conv gets zero filters and a Slice. GPU: neither."""
    from onnx import TensorProto, helper, numpy_helper

    from hushframe.export import rewrites
    from hushframe.export.graph import conv_nodes
    from hushframe.export.quantize import QuantConfig, quantize_int8_model

    m = student_c[0]
    last = conv_nodes(m)[-1].name
    x = np.random.default_rng(3).random((1, 3, 24, 32), dtype=np.float32)
    ref = _run(m, x)
    for rewrite in (rewrites.split_narrow_convs_into_taps, rewrites.pad_output_channels):
        r = onnx.ModelProto()
        r.CopyFrom(m)
        assert rewrite(r, [last]) == [last]
        onnx.checker.check_model(r)
        y = _run(r, x)  # zero filters are exact; the taps are summed in another order
        assert np.array_equal(y, ref) if rewrite is rewrites.pad_output_channels else np.abs(y - ref).max() < 1e-5
    assert [n.name for n in conv_nodes(r)] == [n.name for n in conv_nodes(m)]  # padding keeps the conv
    # the shift keeps the conv's own placement: asymmetric pads and dilation 2 on a lone 5x3 conv
    w = np.random.default_rng(4).standard_normal((2, 4, 5, 3)).astype(np.float32)
    lone = helper.make_model(helper.make_graph(
        [helper.make_node("Conv", ["input", "w", "b"], ["output"], name="c", pads=[4, 1, 3, 2], dilations=[2, 2])], "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 4, 11, 9])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([0.5, -1], np.float32), "b")]),
        opset_imports=[helper.make_opsetid("", 17)])
    split = onnx.ModelProto()
    split.CopyFrom(lone)
    assert rewrites.split_narrow_convs_into_taps(split, ["c"]) == ["c"]
    xl = np.random.default_rng(5).standard_normal((1, 4, 11, 9)).astype(np.float32)
    assert np.abs(_run(split, xl) - _run(lone, xl)).max() < 1e-5
    assert [n.name for n in split.graph.node] == ["c_taps", "c_shift", "c_sum"]
    crops = np.random.default_rng(0).random((32, 3, 32, 32), dtype=np.float32)
    _, rep = quantize_int8_model(m, crops, QuantConfig(keep_float=(last,), target="avx2"))
    assert rep["tap_split_convs"] == [last] and rep["padded_convs"] == []
    _, rep = quantize_int8_model(m, crops, QuantConfig(keep_float=(last,), target="gpu"))  # TensorRT's form is left alone
    assert "tap_split_convs" not in rep and "padded_convs" not in rep
