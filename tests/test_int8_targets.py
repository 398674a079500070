"""INT8 recipes per CPU kind (issue 29): `--target auto` picks by the CPU, the avx2 recipe stays today's
graph, and the vnni/amx recipe's rewrites are exact where they claim to be. Everything here runs on any
CPU through ONNX Runtime; what needs VNNI/AMX or bf16 in OpenVINO is skipped elsewhere, with the reason."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

AVX2_CPU = frozenset({"sse4_2", "avx", "avx2", "fma"})  # an AMD EPYC before Zen 4
VNNI_CPU = AVX2_CPU | {"avx512f", "avx512_vnni"}  # Ice Lake / Cascade Lake
AMX_CPU = VNNI_CPU | {"avx512_bf16", "amx_int8", "amx_bf16", "amx_tile"}  # Sapphire Rapids
LAST = "/unet/dec1/conv2/conv/Conv"
# The structure of the tiny student C's INT8 graph under the avx2 recipe (nodes: op, name, inputs,
# outputs, attributes; initializers: name, type, shape), as the quantizer made it before recipes per
# CPU kind: computed with the code of commit 8879ab6 (`quantize_int8_model(model, crops,
# keep_float=[LAST])`, then the default and only CPU recipe) and equal to today's avx2 recipe. Values
# are left out (float calibration differs in its last bits between CPUs); 7-bit codes are checked below.
AVX2_STRUCTURE = "9287ad852283650ef5d91b50651bc79cc09e708c5fe8cb3ec2b43a69814250ef"


def _run(model, x, optimize=True):
    so = ort.SessionOptions()
    if not optimize:  # Q/DQ computed literally in float: what every correct int8 kernel must reproduce
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(
        ["output"], {"input": x})[0]


def _structure(model) -> str:
    from onnx import helper

    def attr(a):
        v = helper.get_attribute_value(a)
        return [a.name, v.decode() if isinstance(v, bytes) else repr(v) if not hasattr(v, "SerializeToString") else "tensor"]

    nodes = [[n.op_type, n.name, list(n.input), list(n.output), sorted(attr(a) for a in n.attribute)] for n in model.graph.node]
    inits = sorted([i.name, i.data_type, list(i.dims)] for i in model.graph.initializer)
    return hashlib.sha256(json.dumps([nodes, inits]).encode()).hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from hushframe.export.onnx_export import export_onnx
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import save_model

    tmp = tmp_path_factory.mktemp("targets")
    torch.manual_seed(0)
    path = export_onnx(save_model(create_model("student_c", width=8, levels=2).eval(), tmp / "c.safetensors"), tmp / "c.onnx")
    crops = np.random.default_rng(0).random((16, 3, 32, 32), dtype=np.float32)
    x = np.round(np.random.default_rng(1).random((1, 3, 40, 56), dtype=np.float32) * 255) / 255  # 8-bit frames
    return onnx.load(str(path)), crops, x


def test_auto_picks_the_recipe_of_the_cpu_it_runs_on():
    from hushframe.export.quant_config import QuantConfig, choose_target
    from hushframe.runtime.cpu_isa import cpu_kind

    assert [choose_target("auto", f)[0] for f in (AVX2_CPU, VNNI_CPU, AMX_CPU, frozenset())] == ["avx2", "vnni", "amx", "avx2"]
    assert "AVX2-only" in choose_target("auto", AVX2_CPU)[1] and choose_target("amx", AVX2_CPU) == ("amx", "--target amx, named")
    assert cpu_kind({"avx2", "avx_vnni"}) == "vnni"  # Alder Lake's AVX-VNNI: 32-bit sums, no AVX-512
    # auto on an AVX2-only CPU is exactly today's recipe: every field the same as a named avx2
    assert QuantConfig().resolved(flags=AVX2_CPU) == QuantConfig(target="avx2").resolved(flags=AMX_CPU)
    amx = QuantConfig().resolved(flags=AMX_CPU)
    assert (amx.target, amx.image_convs, amx.hoist, amx.float_precision, amx.weight_bits) == ("amx", "concat", True, "bf16", 8)
    vnni = QuantConfig().resolved(flags=VNNI_CPU)
    assert (vnni.image_convs, vnni.float_precision) == ("concat", "f32")
    choice = QuantConfig().choice(AMX_CPU)
    assert choice["target"] == "amx" and "AMX CPU" in choice["why"] and "amx_int8" in choice["quantized_on"]


def test_avx2_recipe_graph_is_todays(tiny):
    """`auto` on an AVX2-only CPU makes the graph every artifact had before recipes per CPU."""
    from hushframe.export.quantize import QuantConfig, quantize_int8_model

    model, crops, x = tiny
    cfg = QuantConfig(keep_float=(LAST,)).resolved(flags=AVX2_CPU)
    q, rep = quantize_int8_model(model, crops, cfg)
    assert _structure(q) == AVX2_STRUCTURE, _structure(q)
    assert rep["image_convs"] == "auto" and "hoisted_qdq" not in rep and rep["float_precision"] == "f32"
    inits = {i.name: i for i in q.graph.initializer}
    codes = [onnx.numpy_helper.to_array(inits[n.input[0]]) for n in q.graph.node
             if n.op_type == "DequantizeLinear" and n.input[0] in inits and inits[n.input[0]].data_type == onnx.TensorProto.INT8]
    assert codes and max(int(np.abs(c.astype(int)).max()) for c in codes) == 63  # 7-bit: exact without VNNI
    assert np.abs(_run(q, x) - _run(model, x)).mean() < 0.02


def test_concat_recipe_rewrites_are_exact(tiny):
    """The vnni/amx recipe's steps: the shifted image concat is exact in float, moving Q/DQ above
    pooling/upsampling/concat is exact in int8, and the half-resolution dither is removed inside the
    int8 conv up to its one weight column's rounding."""
    from hushframe.export.qdq import hoist_qdq
    from hushframe.export.quantize import QuantConfig, quantize_int8_model
    from hushframe.export.rewrites import shift_image_concats

    model, crops, x = tiny
    s = onnx.ModelProto()
    s.CopyFrom(model)
    assert shift_image_concats(s) == ["/unet/dec1/conv1/conv/Conv"]
    assert np.abs(_run(s, x) - _run(model, x)).max() < 1e-5
    cfg = dict(target="amx", keep_float=(LAST,))
    plain, rep = quantize_int8_model(model, crops, QuantConfig(**cfg, hoist=False, dither="none"))
    hoisted = onnx.ModelProto()
    hoisted.CopyFrom(plain)
    assert hoist_qdq(hoisted) > 0
    onnx.checker.check_model(hoisted)
    assert np.array_equal(_run(hoisted, x, optimize=False), _run(plain, x, optimize=False))
    full, rep = quantize_int8_model(model, crops, QuantConfig(**cfg))
    assert rep["image_concat_convs"] == ["/unet/dec1/conv1/conv/Conv"] and rep["hoisted_qdq"] > 0
    assert rep["unified_scales"]  # the pooled map read by the next level and by the skip concat: one scale
    # so every Resize and MaxPool reads dequantized int8 codes (OpenVINO runs them on int8), and every
    # Concat's inputs are quantized alike
    prod = {o: n for n in full.graph.node for o in n.output}
    assert all(prod[n.input[0]].op_type == "DequantizeLinear" for n in full.graph.node if n.op_type in ("Resize", "MaxPool"))
    # and no quantizer is left below a concat, pooling or upsampling
    assert not [n.name for n in full.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in prod
                and prod[n.input[0]].op_type in ("Concat", "MaxPool", "Resize")]
    assert rep["dither"]["tensors"]  # the features, dithered at half resolution before the upsampling
    # the image's codes are exact: k/255 shifted by 128/255 at scale 1/255 are the integers k - 128
    from hushframe.export.rewrites import IMAGE_SHIFT

    k = np.arange(256, dtype=np.float32) / 255
    assert np.array_equal(np.rint((k - np.float32(IMAGE_SHIFT)) / np.float32(1 / 255)), np.arange(256) - 128)


def test_concat_dither_is_removed_inside_the_conv(tiny):
    """With every activation's rounding taken out, the dithered and undithered concat graphs agree
    up to the compensation column's int8 rounding (the subtractive dither adds nothing of its own)."""
    from hushframe.export.quantize import QuantConfig, quantize_int8_model

    model, crops, x = tiny
    cfg = dict(target="amx", keep_float=(LAST,))
    a, _ = quantize_int8_model(model, crops, QuantConfig(**cfg, dither="none"))
    b, rep = quantize_int8_model(model, crops, QuantConfig(**cfg, dither="last"))
    assert rep["dither"]["tensors"]
    ya, yb = _run(_without_activation_rounding(a), x), _run(_without_activation_rounding(b), x)
    assert np.abs(ya - yb).max() < 2e-3 and np.abs(ya - yb).mean() < 2e-4, (np.abs(ya - yb).max(), np.abs(ya - yb).mean())


def _without_activation_rounding(model):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = {i.name for i in m.graph.initializer}
    qs = {n.output[0]: n.input[0] for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in inits}
    dqs = {n.output[0]: qs[n.input[0]] for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in qs}
    keep = [n for n in m.graph.node if n.output[0] not in qs and n.output[0] not in dqs]
    for n in keep:
        for i, t in enumerate(n.input):
            if t in dqs:
                n.input[i] = dqs[t]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def test_amx_artifact_manifest_info_and_runtime_precision(tmp_path, tiny):
    """The manifest says which recipe was picked and why; `hushframe info` shows it; the OpenVINO
    runtime runs the float convs in bf16 only for such an artifact, on a CPU with bf16."""
    from hushframe.core.contract import openvino_cpu_precision_hint
    from hushframe.core.manifest import read_manifest
    from hushframe.export.quantize import QuantConfig, quantize
    from hushframe.toolkit.cli.info_cmd import describe
    from hushframe.core.images import write_image

    model, _, x = tiny
    src = tmp_path / "c.onnx"
    onnx.save(model, str(src))
    calib = tmp_path / "calib"
    calib.mkdir()
    for i in range(2):
        write_image(calib / f"c{i}.png", np.random.default_rng(i).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    out = quantize(src, tmp_path / "c-int8.onnx", "int8", calib, QuantConfig(target="amx", keep_float=(LAST,)),
                   num_crops=32, crop_size=32)
    man = read_manifest(out)
    assert man["settings"]["int8_target"] == "amx" and man["settings"]["cpu_float_precision"] == "bf16"
    assert man["quantization"]["target_choice"]["why"] == "--target amx, named"
    assert man["quantization"]["config"]["resolved"]["image_convs"] == "concat"
    text = "\n".join(describe(out))
    assert "recipe      amx: --target amx, named; float convs bf16" in text
    assert openvino_cpu_precision_hint("int8", "bf16", True) == "bf16"
    assert openvino_cpu_precision_hint("int8", "bf16", False) == "f32"  # no native bf16: f32, as measured
    assert openvino_cpu_precision_hint("int8", None, True) == "f32" and openvino_cpu_precision_hint("fp16") is None
    assert np.abs(_run(onnx.load(str(out)), x) - _run(model, x)).mean() < 0.02
    pytest.importorskip("openvino")
    from hushframe.export.openvino_ir import compile_openvino

    xml = compile_openvino(out, tmp_path / "c-int8.xml", "int8", latency_check=False)  # the IR: its .onnx's recipe
    assert read_manifest(xml)["settings"]["cpu_float_precision"] == "bf16"
    assert "recipe      amx: --target amx, named; float convs bf16" in "\n".join(describe(xml))


def test_amx_recipe_in_openvino_matches_onnx_runtime(tmp_path, tiny):
    """The concat graph compiled by OpenVINO on this CPU computes what ONNX Runtime computes (int8
    codes and exact image included); with bf16 float convs, close to it."""
    pytest.importorskip("openvino")
    from hushframe.export.openvino_ir import compile_openvino, compiled_model
    from hushframe.export.quantize import QuantConfig, quantize_int8_model
    from hushframe.runtime.cpu_isa import cpu_int8_kind, describe_cpu, has_bf16

    if cpu_int8_kind() != "vnni":
        pytest.skip(f"8-bit weights may saturate OpenVINO's int8 sums on this CPU ({describe_cpu()}); "
                    "the vnni/amx recipe is for CPUs with VNNI or AMX")
    model, crops, x = tiny
    q, _ = quantize_int8_model(model, crops, QuantConfig(target="amx", keep_float=(LAST,)))
    from hushframe.export.contract import read_metadata, set_metadata

    set_metadata(q, dict(read_metadata(model), precision="int8", int8_target="amx"))
    onnx.save(q, str(tmp_path / "q.onnx"))
    xml = compile_openvino(tmp_path / "q.onnx", tmp_path / "q.xml", "int8", latency_check=False)
    ref = _run(q, x)
    y32 = compiled_model(xml, 2, "f32")({"input": x})[0]
    assert np.abs(y32 - ref).max() < 2e-3, describe_cpu()
    if not has_bf16():
        pytest.skip(f"no bf16 on this CPU ({describe_cpu()}): the bf16 float convs are not checked")
    y16 = compiled_model(xml, 2, "bf16")({"input": x})[0]
    assert np.abs(y16 - ref).mean() < 1e-2, describe_cpu()  # bf16 float convs: close, not exact
