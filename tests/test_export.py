"""export/: ONNX export, quantize (INT8 Q/DQ, FP16), OpenVINO IR, Triton repository, TensorRT checks.

Tiny widths throughout; real onnxruntime / openvino, no mocks. The accuracy bar on the published
student lives in test_export_shared.py, TensorRT builds in test_export_tensorrt.py.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx not installed (pip install hushframe[onnx])")
torch = pytest.importorskip("torch", reason="torch not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime not installed")

from hushframe.export.contract import CONTRACT_KEYS, load_onnx_checked, read_metadata  # noqa: E402
from hushframe.core.manifest import read_manifest  # noqa: E402
from hushframe.toolkit.models import create_model  # noqa: E402
from hushframe.toolkit.weights import save_model  # noqa: E402


def _run_cli(*args) -> tuple[int, str]:
    from hushframe.toolkit.cli.main import main

    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    return rc, err.getvalue()


def _ort(path_or_model, x):
    from hushframe.export.onnx_export import ort_session

    return ort_session(path_or_model).run(["output"], {"input": x})[0]


@pytest.fixture(scope="module")
def tmp(tmp_path_factory):
    return tmp_path_factory.mktemp("export")


@pytest.fixture(scope="module")
def student(tmp):
    torch.manual_seed(0)
    m = create_model("student_c", width=8).eval()
    p = save_model(m, tmp / "student.safetensors")
    return m, p


@pytest.fixture(scope="module")
def student_onnx(tmp, student):
    from hushframe.export.onnx_export import export_onnx

    return export_onnx(student[1], tmp / "student.onnx")


@pytest.fixture(scope="module")
def calib_dir(tmp):
    from PIL import Image

    d = tmp / "calib"
    d.mkdir()
    rng = np.random.default_rng(1)
    base = rng.random((1, 1, 3)) * 0.6 + 0.2
    for i in range(4):
        yy, xx = np.mgrid[0:96, 0:128] / 128.0
        img = np.clip(base + 0.3 * np.sin(6 * (xx + i * yy))[..., None] + rng.normal(0, 0.05, (96, 128, 3)), 0, 1)
        Image.fromarray((img * 255).astype(np.uint8)).save(d / f"f{i}.png")
    return d


@pytest.fixture(scope="module")
def student_int8(tmp, student_onnx, calib_dir):
    from hushframe.export.quantize import QuantConfig, quantize

    # the avx2 recipe on every CPU (auto is the CPU's own: tests/test_int8_targets.py)
    return quantize(student_onnx, tmp / "student-int8.onnx", "int8", calib_dir, QuantConfig(target="avx2"), num_crops=32,
                    crop_size=64)


# ------------------------------------------------------------------ export
def test_student_export_contract_and_parity(student, student_onnx):
    model = load_onnx_checked(student_onnx)
    onnx.checker.check_model(model, full_check=True)
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["output"]
    assert model.opset_import[0].version >= 17
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param != "" for d in dims] == [True, False, True, True]  # dynamic N, H, W; C = 3
    md = read_metadata(model)
    assert md["size_multiple"] == 32 and md["model_kind"] == "student" and md["precision"] == "fp32"
    assert md["input_name"] == "input" and md["output_name"] == "output" and md["arch"] == "student_c"
    man = read_manifest(student_onnx, required=True)
    assert man["kind"] == "onnx" and all(man["settings"][k] == md[k] for k in CONTRACT_KEYS if k in md)
    assert man["settings"]["simplified"] is True
    for shape in [(1, 3, 64, 64), (2, 3, 96, 160)]:
        x = torch.rand(*shape, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            ref = student[0](x).numpy()
        assert np.abs(_ort(student_onnx, x.numpy()) - ref).max() <= 1e-4


def test_teacher_export_at_fixed_blind_spot(tmp):
    from hushframe.export.onnx_export import _FixedBlindSpot, export_onnx

    torch.manual_seed(0)
    teacher = create_model("atbsn", width=4, blind_spot=3).eval()
    w = save_model(teacher, tmp / "teacher.safetensors")
    out = export_onnx(w, tmp / "teacher-k5.onnx", blind_spot=5)
    model = load_onnx_checked(out)
    md = read_metadata(model)
    assert md["model_kind"] == "teacher" and md["blind_spot"] == 5 and md["size_multiple"] == 32
    ref_net = _FixedBlindSpot(teacher, 5)
    for shape in [(1, 3, 64, 64), (1, 3, 64, 96)]:  # square and non-square take different PyTorch paths
        x = torch.rand(*shape)
        with torch.no_grad():
            ref = ref_net(x).numpy()
        assert np.abs(_ort(out, x.numpy()) - ref).max() <= 1e-4
    rc, err = _run_cli("export", w, "-o", tmp / "bad-k.onnx", "--blind-spot", "2")
    assert rc == 2 and "blind spot" in err and not (tmp / "bad-k.onnx").exists()


def test_teacher_int8_runs_on_every_cpu_backend_and_a_failing_ir_is_one_line(tmp, calib_dir):
    """A teacher exported at a fixed blind spot quantizes (its two blind-spot branches share weights:
    each conv gets codes of its own), without dither (refused when asked: it is for a student's
    decoder), and runs alike through ONNX Runtime and OpenVINO on a non-square frame. An IR OpenVINO
    cannot convert, or converts but cannot run, is one line and writes nothing."""
    import onnx as onnx_mod

    from hushframe.export.dither import add_dither, dither_tensors
    from hushframe.export.onnx_export import export_onnx
    from hushframe.export.quantize import QuantConfig, quantize
    from hushframe.runtime.backends import open_backend

    torch.manual_seed(0)
    w = save_model(create_model("atbsn", width=4, levels=2).eval(), tmp / "t8.safetensors")
    fp32 = export_onnx(w, tmp / "t8.onnx", blind_spot=3)
    q = quantize(fp32, tmp / "t8-int8.onnx", "int8", calib_dir, QuantConfig(target="avx2"), num_crops=32, crop_size=64)
    assert read_manifest(q)["quantization"]["dither"] == {"mode": "none", "tensors": []}
    rc, err = _run_cli("quantize", fp32, "-c", calib_dir, "-o", tmp / "t8-d.onnx", "--dither", "last")
    assert rc == 2 and "teacher" in err and err.count("\n") == 1 and not (tmp / "t8-d.onnx").exists()
    from hushframe.export.calibration import calibration_crops

    c = calibration_crops(calib_dir, 32, 64, seed=5)[:2]  # frames like the calibration set, made non-square
    x = np.concatenate([c[:1], c[1:]], axis=3)
    outs = []
    for path, backend in [(fp32, "onnxruntime"), (q, "onnxruntime"), (q, "openvino")]:
        if backend == "openvino" and importlib.util.find_spec("openvino") is None:
            continue
        be = open_backend(path, backend=backend)
        outs.append(be.infer(x))
        be.close()
    assert np.abs(outs[1] - outs[0]).mean() < 0.05 * np.abs(outs[0]).mean()
    if len(outs) == 3:
        assert np.abs(outs[2] - outs[1]).mean() < 0.02
        # the dithered teacher (made by hand): OpenVINO's frontend refuses it -> one line, nothing written
        m = onnx_mod.load(str(q))
        kinds = {n.input[0]: "s8" for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] != "input"}
        onnx_mod.save(add_dither(m, dither_tensors(m, kinds, "last")), str(tmp / "t8-dith.onnx"))
        (tmp / "t8-dith.onnx.manifest.json").write_text((tmp / "t8-int8.onnx.manifest.json").read_text())
        rc, err = _run_cli("compile", "openvino", tmp / "t8-dith.onnx", "-o", tmp / "t8-dith.xml", "--precision", "int8")
        assert rc == 2 and err.count("\n") == 1 and "OpenVINO" in err and "Traceback" not in err, err
        assert not list(tmp.glob("t8-dith.xml*")) and not list(tmp.glob("t8-dith.bin"))


def test_students_a_b_export_with_their_multiple(tmp):
    from hushframe.export.onnx_export import export_onnx

    for arch in ("student_a", "student_b"):
        m = create_model(arch, width=8).eval()
        w = save_model(m, tmp / f"{arch}.safetensors")
        out = export_onnx(w, tmp / f"{arch}.onnx")
        assert read_metadata(load_onnx_checked(out))["size_multiple"] == 4
        x = torch.rand(1, 3, 36, 20)
        with torch.no_grad():
            assert np.abs(_ort(out, x.numpy()) - m(x).numpy()).max() <= 1e-4


def test_cli_export_default_and_explicit_subcommand(tmp, student):
    rc, err = _run_cli("export", student[1], "-o", tmp / "cli-a.onnx")
    assert rc == 0, err
    rc, err = _run_cli("export", "onnx", student[1], "-o", tmp / "cli-b.onnx")
    assert rc == 0, err
    assert (tmp / "cli-a.onnx.manifest.json").exists() and (tmp / "cli-b.onnx").exists()


def test_help_does_not_import_heavy_libraries():
    code = ("import sys; from hushframe.toolkit.cli.main import app; import hushframe.export.cli; "
            "print(sorted(m for m in ('torch', 'onnx', 'openvino', 'nncf', 'onnxruntime', 'tensorrt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


# ------------------------------------------------------------------ bad input
def _no_strays(folder: Path, before: set) -> None:
    assert set(p.name for p in folder.iterdir()) == before


def test_bad_inputs_one_line_error_no_partial_file(tmp, student_onnx, calib_dir):
    bad = tmp / "bad"
    bad.mkdir()
    raw = Path(student_onnx).read_bytes()
    (bad / "truncated.onnx").write_bytes(raw[: len(raw) // 2])
    (bad / "corrupt.onnx").write_bytes(b"\x08\x07garbage" * 50)
    m = onnx.load(str(student_onnx))
    m.graph.input[0].name = "image"
    for n in m.graph.node:
        for i, t in enumerate(n.input):
            if t == "input":
                n.input[i] = "image"
    onnx.save(m, str(bad / "names.onnx"))
    m = onnx.load(str(student_onnx))
    m.opset_import[0].version = 13
    onnx.save(m, str(bad / "opset13.onnx"))
    (bad / "empty-calib").mkdir()
    from PIL import Image

    (bad / "small-calib").mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(bad / "small-calib" / "a.png")
    before = set(p.name for p in bad.iterdir())
    cases = [
        (("quantize", bad / "truncated.onnx", "-c", calib_dir, "-o", bad / "o1.onnx"), "truncated or corrupt"),
        (("quantize", bad / "corrupt.onnx", "-c", calib_dir, "-o", bad / "o2.onnx"), "ONNX"),
        (("compile", "openvino", bad / "names.onnx", "-o", bad / "o3.xml"), "unexpected graph inputs"),
        (("quantize", bad / "opset13.onnx", "--precision", "fp16", "-o", bad / "o4.onnx"), "opset 13"),
        (("quantize", student_onnx, "-c", bad / "empty-calib", "-o", bad / "o5.onnx"), "no images"),
        (("quantize", student_onnx, "-c", bad / "small-calib", "-o", bad / "o6.onnx", "--crop-size", "64"), "too small"),
        (("quantize", student_onnx, "-c", calib_dir, "-o", bad / "o7.onnx", "--num-crops", "8"), "at least 32"),
        (("quantize", student_onnx, "-c", calib_dir, "-o", bad / "missing" / "o8.onnx"), "does not exist"),
        (("quantize", student_onnx, "-c", calib_dir, "-o", bad / "o11.onnx", "--image-convs", "int4"), "--image-convs"),
        (("quantize", student_onnx, "-c", calib_dir, "-o", bad / "o12.onnx", "--image-convs", "int8", "--target", "gpu"),
         "CPU target only"),
        (("quantize", student_onnx, "-c", calib_dir, "-o", bad / "o13.onnx", "--finetune-steps", "-5"), "--finetune-steps"),
        (("quantize", student_onnx, "--precision", "fp16", "-o", bad / "o14.onnx", "--finetune-steps", "10"),
         "int8 only"),
        (("export", tmp / "student.safetensors", "-o", bad / "missing" / "o9.onnx"), "does not exist"),
        (("compile", "openvino", student_onnx, "-o", bad / "missing" / "o10.xml"), "does not exist"),
    ]
    for args, needle in cases:
        rc, err = _run_cli(*args)
        assert rc != 0, args
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("hushframe: error:") and needle in lines[0], (args, err)
    _no_strays(bad, before)


# ------------------------------------------------------------------ quantize
def test_calibration_crops_reproducible_from_folder_and_video(tmp, calib_dir):
    av = pytest.importorskip("av", reason="PyAV not installed")
    from hushframe.export.calibration import calibration_crops

    a = calibration_crops(calib_dir, 32, 64, seed=7)
    b = calibration_crops(calib_dir, 32, 64, seed=7)
    assert a.shape == (32, 3, 64, 64) and np.array_equal(a, b)
    assert not np.array_equal(a, calibration_crops(calib_dir, 32, 64, seed=8))
    video = tmp / "clip.mp4"
    with av.open(str(video), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
        for i in range(6):
            fr = av.VideoFrame.from_ndarray(np.full((96, 128, 3), 40 * i, np.uint8), format="rgb24")
            for pkt in s.encode(fr):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    v = calibration_crops(video, 32, 64, seed=0)
    assert v.shape == (32, 3, 64, 64) and np.array_equal(v, calibration_crops(video, 32, 64, seed=0))


def test_calibration_crops_cover_the_frames_saturated_colours(tmp):
    """A quarter of the crops sit on the most saturated regions, so a rare saturated patch reaches the
    statistics whatever the seed (the INT8 ranges and equalization must see it)."""
    from hushframe.export.calibration import calibration_crops
    from hushframe.core.images import write_image

    folder = tmp / "sat-calib"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for k in range(3):
        img = np.clip(0.5 + rng.normal(0, 0.02, (256, 384, 3)), 0, 1).astype(np.float32)
        if k == 1:
            img[160:192, 288:320] = (0.05, 0.1, 0.95)  # one small saturated blue patch in one frame
        write_image(folder / f"f{k}.png", img)
    for seed in (0, 1, 2):
        c = calibration_crops(folder, 32, 64, seed=seed)
        chroma = (c.max(axis=1) - c.min(axis=1)).reshape(len(c), -1).max(axis=1)
        assert chroma[-8:].max() > 0.8  # the last quarter: the saturated region, for every seed
    plain = calibration_crops(folder, 32, 64, seed=0, extreme_share=0)
    assert np.array_equal(plain[:24], calibration_crops(folder, 32, 64, seed=0)[:24])  # random part unchanged


def test_int8_is_explicit_symmetric_qdq_per_channel(student_onnx, student_int8, calib_dir):
    from hushframe.export import qdq
    from hushframe.export.tensorrt_engine import unsupported_ops

    m = load_onnx_checked(student_int8)
    # TensorRT's form (signed everywhere) is --target gpu's (tests/test_int8_kinds.py); a CPU target reads the image unsigned
    assert all(v.startswith("input_") and "uint8" in v for v in qdq.qdq_violations(m))
    assert read_metadata(m)["precision"] == "int8"
    inits = {i.name: i for i in m.graph.initializer}
    qs = [n for n in m.graph.node if n.op_type == "QuantizeLinear"]
    wdq = [n for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert qs and wdq
    for n in wdq:  # int8 weights, one scale per output channel
        w = onnx.numpy_helper.to_array(inits[n.input[0]])
        s = onnx.numpy_helper.to_array(inits[n.input[1]])
        assert w.dtype == np.int8 and s.shape == (w.shape[0],)
        assert [a.i for a in n.attribute if a.name == "axis"] == [0]
    for n in qs:  # zero point 0 everywhere; unsigned codes only for the image (exact: scale 1/255), a CPU target
        zp = onnx.numpy_helper.to_array(inits[n.input[2]])
        assert zp == 0 and zp.dtype == (np.uint8 if n.input[0] == "input" else np.int8), n.name
        if n.input[0] == "input":
            assert np.isclose(onnx.numpy_helper.to_array(inits[n.input[1]]), 1 / 255)
    assert unsupported_ops(m) == []
    man = read_manifest(student_int8, required=True)
    q = man["quantization"]
    assert q["float_convs"] and q["int8_convs"] and man["source"]["calibration"]["crops"] == 32
    # --image-convs auto: the intro conv reads the image in int8; the image part beside the dithered
    # decoder conv stays float (it carries the dither's compensation as one more input channel)
    assert q["image_convs"] == "auto" and "/unet/intro/conv/Conv" in q["int8_convs"]
    assert "/unet/dec1/conv1/conv/Conv_input_part" in q["float_convs"] and q["dither"]["tensors"]
    from hushframe.export.calibration import calibration_crops

    x = calibration_crops(calib_dir, 32, 64, seed=5)[:4]  # frames like the calibration set
    a, b = _ort(student_onnx, x), _ort(student_int8, x)
    assert np.abs(a - b).mean() < 0.05 * np.abs(a).mean()


def test_equalize_and_split_are_exact_in_float(student_onnx, calib_dir):
    from hushframe.export.calibration import calibration_crops
    from hushframe.export.equalize import equalization_groups, equalize
    from hushframe.export.ranges import activation_stats
    from hushframe.export.rewrites import split_input_convs

    base = load_onnx_checked(student_onnx)
    m = onnx.ModelProto()
    m.CopyFrom(base)
    made = split_input_convs(m)
    assert made == ["/unet/dec1/conv1/conv/Conv_input_part"]
    crops = calibration_crops(calib_dir, 32, 64)
    groups = equalization_groups(m)
    st = activation_stats(m, crops, [g[1].output[0] for g in groups], samples_per_crop=1)
    assert equalize(m, st) == len(groups) > 5
    x = np.random.default_rng(2).random((1, 3, 64, 96), dtype=np.float32)
    assert np.abs(_ort(m, x) - _ort(base, x)).max() <= 1e-4


def test_quantize_finetune_steps_from_the_cli(tmp, student_onnx, calib_dir):
    out = tmp / "student-int8-ft.onnx"
    rc, err = _run_cli("quantize", student_onnx, "-c", calib_dir, "-o", out, "--num-crops", "32", "--crop-size", "64",
                       "--finetune-steps", "3")
    assert rc == 0, err
    ft = read_manifest(out, required=True)["quantization"]["finetune"]
    assert ft["steps"] == 3 and ft["loss_last"] is not None


def test_keep_float_choice_skips_convs_that_remove_almost_nothing():
    """The biggest error does not fit the MAC cap: small convs that fit are not kept float for nothing."""
    from hushframe.export.quantize import choose_float_convs

    errors = {"head": 3e-6, "dec": 2.7e-6, "tail": 2.5e-6, "small1": 2e-8, "small2": 1e-9}
    share = {"head": 0.13, "dec": 0.13, "tail": 0.13, "small1": 0.05, "small2": 0.03}
    assert choose_float_convs(errors, share, budget=1e-9, max_float_macs=0.25) == ["head"]
    assert choose_float_convs({"last": 1e-5, "other": 1e-7}, {"last": 0.03, "other": 0.2}, budget=1e-6) == ["last"]


def test_fp16_variant(tmp, student_onnx):
    from hushframe.export.quantize import quantize

    out = quantize(student_onnx, tmp / "student-fp16.onnx", "fp16")
    m = load_onnx_checked(out)
    assert read_metadata(m)["precision"] == "fp16"
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    x = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    assert np.abs(_ort(out, x) - _ort(student_onnx, x)).max() < 1e-2


# ------------------------------------------------------------------ OpenVINO
def test_openvino_ir_fp32_fp16_int8(tmp, student_onnx, student_int8, calib_dir):
    pytest.importorskip("openvino", reason="openvino not installed (pip install hushframe[openvino])")
    from hushframe.export.calibration import calibration_crops
    from hushframe.export.openvino_ir import compile_openvino, compiled_model
    from hushframe.runtime.cpu_isa import describe_cpu

    print(f"\nCPU: {describe_cpu()}")

    x = calibration_crops(calib_dir, 32, 64, seed=5)[:1]
    ref = _ort(student_onnx, x)
    for prec, src, shape, tol in (("fp32", student_onnx, None, 1e-4), ("fp16", student_onnx, "64x64", 2e-2),
                                  ("int8", student_int8, None, None)):
        xml = compile_openvino(src, tmp / f"ov-{prec}.xml", prec, shape=shape, latency_shape=(1, 3, 64, 64))
        assert xml.exists() and xml.with_suffix(".bin").exists()
        man = read_manifest(xml, required=True)
        assert man["kind"] == "openvino-ir" and man["settings"]["precision"] == prec
        assert man["source"]["sha256"] and man["cpu_latency_ms"]["median_ms"] > 0
        assert man["settings"]["input_name"] == "input" and man["settings"]["size_multiple"] == 32
        y = compiled_model(xml)({"input": x})[0]
        if tol:
            assert np.abs(y - ref).max() <= tol, prec
        else:  # INT8: against the float reference on every CPU, and against ONNX Runtime's INT8
            assert np.abs(y - ref).mean() < 0.05 * np.abs(ref).mean(), describe_cpu()
            assert np.abs(y - _ort(student_int8, x)).mean() < 0.02, describe_cpu()
    assert not [p for p in tmp.iterdir() if p.name.startswith(".ov-")]
    rc, err = _run_cli("compile", "openvino", student_onnx, "-o", tmp / "ov-x.xml", "--shape", "100x96", "--no-latency-check")
    assert rc == 2 and "multiples of 32" in err and not (tmp / "ov-x.xml").exists()


def test_int8_onnx_through_every_backend_matches_float(student_onnx, student_int8, calib_dir):
    """The INT8 .onnx run directly (not compiled) by each installed engine stays near the float model."""
    from hushframe.export.calibration import calibration_crops
    from hushframe.runtime.backends.base import available_backends, open_backend
    from hushframe.runtime.cpu_isa import describe_cpu

    x = calibration_crops(calib_dir, 32, 64, seed=5)[:2]
    ref = _ort(student_onnx, x)
    ran = []
    for name, why in available_backends().items():
        if why or name in ("torch", "tensorrt"):
            continue
        with open_backend(student_int8, backend=name, device="cpu") as be:
            y = be.infer(x)
        err = float(np.abs(y - ref).mean())
        ran.append(f"{name} {err:.4f}")
        assert err < 0.05 * np.abs(ref).mean(), (name, describe_cpu())
    print(f"\nCPU: {describe_cpu()}; mean abs error vs float: {', '.join(ran)}")
    assert ran


def test_int8_targets_weight_codes_manifest_and_runtime_warning(tmp, student_onnx, calib_dir):
    from hushframe.export.quantize import QuantConfig, quantize, resolve_target
    from hushframe.export.errors import ExportError
    from hushframe.runtime.cpu_isa import int8_target_problem

    from hushframe.runtime.cpu_isa import cpu_kind

    assert resolve_target("auto") == {"amx": "amx", "vnni": "vnni"}.get(cpu_kind(), "avx2")
    with pytest.raises(ExportError, match="--target"):
        resolve_target("neon")
    avx2 = load_onnx_checked(tmp / "student-int8.onnx") if (tmp / "student-int8.onnx").exists() else None
    vnni_path = quantize(student_onnx, tmp / "student-int8-vnni.onnx", "int8", calib_dir,
                         QuantConfig(target="vnni", keep_float=()), num_crops=32, crop_size=64)
    vnni = load_onnx_checked(vnni_path)

    def max_code(m):
        inits = {i.name: i for i in m.graph.initializer}
        return max(int(np.abs(onnx.numpy_helper.to_array(inits[n.input[0]]).astype(int)).max())
                   for n in m.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits)

    assert max_code(vnni) == 127 and read_metadata(vnni)["int8_target"] == "vnni"
    assert read_manifest(vnni_path)["settings"]["int8_target"] == "vnni"
    if avx2 is not None:
        assert max_code(avx2) == 63 and read_metadata(avx2)["int8_target"] == "avx2"
    avx2_cpu, vnni_cpu = {"avx2", "fma"}, {"avx2", "avx512f", "avx512_vnni"}
    assert int8_target_problem("avx2", avx2_cpu) is None and int8_target_problem("vnni", vnni_cpu) is None
    assert "no VNNI" in int8_target_problem("vnni", avx2_cpu) and int8_target_problem(None, avx2_cpu)
    assert int8_target_problem("gpu", {"avx2", "avx_vnni"}) is None
    # a temporal model's one recipe: re-quantizing with --target avx2 would change nothing, so it says measure
    temporal = int8_target_problem("nncf-temporal", avx2_cpu)
    assert "parity --video" in temporal and "--target avx2" not in temporal
    from hushframe.runtime.backends.base import open_backend
    from hushframe.runtime.cpu_isa import Int8TargetWarning, cpu_int8_kind

    if cpu_int8_kind() == "avx2":  # this CPU: the runtime says the VNNI artifact was not made for it
        with pytest.warns(Int8TargetWarning, match="no VNNI"):
            open_backend(vnni_path, backend="onnxruntime", device="cpu").close()
    # `hushframe info` says where each runs exactly, and whether this CPU is such a CPU
    from hushframe.toolkit.cli.info_cmd import describe

    text = "\n".join(describe(vnni_path))
    assert "target vnni (8-bit weights: exact on VNNI/AMX CPUs)" in text and "image convs concat" in text
    assert ("may saturate" in text) == (cpu_int8_kind() == "avx2")
    if avx2 is not None:
        text = "\n".join(describe(tmp / "student-int8.onnx"))
        assert "target avx2 (7-bit weights: exact on every x86 CPU)\n" in text and "dither last" in text


# ------------------------------------------------------------------ Triton
@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_triton_repository(tmp, student_onnx, backend):
    if backend == "openvino":
        pytest.importorskip("openvino", reason="openvino not installed")
    from hushframe.export.triton import parse_pbtxt, run_repository

    repo = tmp / f"triton-{backend}"
    rc, err = _run_cli("export", "triton", student_onnx, "-o", repo, "--backend", backend, "--max-batch-size", "4")
    assert rc == 0, err
    cfg = parse_pbtxt((repo / "hushframe_denoiser" / "config.pbtxt").read_text())
    assert cfg["name"] == "hushframe_denoiser" and cfg["backend"] == backend and cfg["max_batch_size"] == 4
    assert cfg["input"][0]["name"] == "input" and cfg["input"][0]["dims"] == [3, -1, -1]
    assert cfg["input"][0]["data_type"] == "TYPE_FP32" and cfg["output"][0]["name"] == "output"
    assert "dynamic_batching" in cfg and cfg["instance_group"][0]["kind"] == "KIND_CPU"
    params = {p["key"]: p["value"]["string_value"] for p in cfg["parameters"]}
    assert params["size_multiple"] == "32"
    x = np.random.default_rng(0).random((2, 3, 64, 64), dtype=np.float32)
    assert np.abs(run_repository(repo, x) - _ort(student_onnx, x)).max() <= 1e-4
    man = json.loads((repo / "hushframe_denoiser" / "config.pbtxt.manifest.json").read_text())
    assert man["kind"] == "triton-repository"
    rc, err = _run_cli("export", "triton", student_onnx, "-o", repo)
    assert rc == 2 and "exists" in err


# ------------------------------------------------------------------ TensorRT checks that run everywhere
def test_graphs_use_only_tensorrt_parser_ops(tmp, student_onnx, student_int8):
    from hushframe.export.tensorrt_engine import supported_ops, unsupported_ops

    teacher = tmp / "teacher-k5.onnx"
    if not teacher.exists():
        from hushframe.export.onnx_export import export_onnx

        export_onnx(tmp / "teacher.safetensors", teacher, blind_spot=5) if (tmp / "teacher.safetensors").exists() else \
            export_onnx(save_model(create_model("atbsn", width=4), tmp / "teacher.safetensors"), teacher)
    from hushframe.export.quantize import quantize

    fp16 = tmp / "student-fp16.onnx"
    if not fp16.exists():
        quantize(student_onnx, fp16, "fp16")
    assert "QLinearConv" not in supported_ops()["supported"]
    for p in (student_onnx, student_int8, teacher, fp16):
        assert unsupported_ops(load_onnx_checked(p)) == [], p
    m = onnx.load(str(student_onnx))
    m.graph.node[0].op_type = "QLinearConv"
    assert "QLinearConv" in unsupported_ops(m)


def test_tensorrt_profile_covers_1080p_and_4k():
    from hushframe.export.tensorrt_engine import default_profile, profile_covers

    p = default_profile(32)
    assert profile_covers(p, 1080, 1920) and profile_covers(p, 2160, 3840) and profile_covers(p, 720, 1280)
    assert p["opt"] == [1, 3, 1088, 1920] and p["max"] == [1, 3, 2176, 3840]
    assert not profile_covers(p, 4320, 7680)


def test_engine_manifest_mismatch_is_refused_with_a_clear_message():
    from hushframe.export.errors import EngineMismatchError
    from hushframe.export.tensorrt_engine import check_engine_manifest

    man = {"settings": {"tensorrt_version": "10.3.0", "gpu_name": "NVIDIA A10", "compute_capability": "8.6"}}
    check_engine_manifest(man, "10.3.0", {"name": "NVIDIA A10", "compute_capability": "8.6"})
    with pytest.raises(EngineMismatchError, match="TensorRT 10.3.0.*TensorRT 10.7.0"):
        check_engine_manifest(man, "10.7.0", {"name": "NVIDIA A10", "compute_capability": "8.6"})
    with pytest.raises(EngineMismatchError, match="compute capability 8.6.*compute capability 8.9"):
        check_engine_manifest(man, "10.3.0", {"name": "NVIDIA L4", "compute_capability": "8.9"})
