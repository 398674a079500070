"""Issue 12's students (CPU-sized residual UNets, the paper's 1.02 M layout) through the unchanged export chain."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from hushframe.toolkit.models import create_model  # noqa: E402
from hushframe.toolkit.weights import load_model, save_model  # noqa: E402

ARCHS = [("student_cpu", dict(width=4, levels=2, unshuffle=2), 8),
         ("student_cpu_dw", dict(width=4, levels=1, unshuffle=1, convs=1), 2),
         ("student_c_paper", dict(width=4, levels=2), 4)]


@pytest.mark.parametrize("arch, cfg, multiple", ARCHS)
def test_new_students_export_quantize_and_compile(tmp_path, arch, cfg, multiple):
    from hushframe.export.contract import load_onnx_checked, read_metadata
    from hushframe.export.onnx_export import export_onnx, ort_session
    from hushframe.export.quantize import QuantConfig, quantize
    from hushframe.export.tensorrt_engine import unsupported_ops
    from hushframe.core.images import write_image

    torch.manual_seed(0)
    m = create_model(arch, **cfg).eval()
    w = save_model(m, tmp_path / "s.safetensors")
    assert load_model(w).config == m.config
    onnx_path = export_onnx(w, tmp_path / "s.onnx")
    assert read_metadata(load_onnx_checked(onnx_path))["size_multiple"] == multiple
    x = torch.rand(1, 3, 2 * multiple * 3, multiple * 5)
    with torch.no_grad():
        ref = m(x).numpy()
    assert np.abs(ort_session(onnx_path).run(["output"], {"input": x.numpy()})[0] - ref).max() <= 1e-4
    calib = tmp_path / "calib"
    calib.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        write_image(calib / f"c{i}.png", rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    q = quantize(onnx_path, tmp_path / "s-int8.onnx", "int8", calib, num_crops=32, crop_size=32)
    assert unsupported_ops(load_onnx_checked(q)) == [] and unsupported_ops(load_onnx_checked(onnx_path)) == []
    pytest.importorskip("openvino")
    from hushframe.export.openvino_ir import compile_openvino, compiled_model

    xml = compile_openvino(q, tmp_path / "s-int8.xml", "int8", latency_check=False)
    y = compiled_model(xml)({"input": x.numpy()})[0]
    assert y.shape == ref.shape and np.abs(y - ort_session(q).run(["output"], {"input": x.numpy()})[0]).mean() < 0.02
    if arch == "student_cpu":  # --image-convs int8: the head reads the unshuffled frame as exact u8 codes
        from hushframe.core.manifest import read_manifest

        q8 = quantize(onnx_path, tmp_path / "s-int8i.onnx", "int8", calib, QuantConfig(image_convs="int8"),
                      num_crops=32, crop_size=32)
        rep = read_manifest(q8)["quantization"]
        assert "/head/Conv" in rep["int8_convs"] and "/head/Conv" not in rep["float_convs"]
        xml8 = compile_openvino(q8, tmp_path / "s-int8i.xml", "int8", latency_check=False)
        y8 = compiled_model(xml8)({"input": x.numpy()})[0]
        assert np.abs(y8 - ort_session(q8).run(["output"], {"input": x.numpy()})[0]).mean() < 0.02


def test_cpu_student_starts_as_the_identity_and_is_cheap():
    """Residual output with a zero last conv: training starts from 'do no harm'."""
    m = create_model("student_cpu", width=16)
    x = torch.rand(1, 3, 32, 48)
    assert torch.equal(m(x), x)
    c = create_model("student_c")
    n = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert n(m) < n(c) / 5


def test_recipe_builds_the_cpu_student_and_names_a_mistyped_option(tmp_path):
    """`distill.student_options` reaches the builder; a typo is one RecipeError, not the wrong network."""
    from hushframe.toolkit.recipes import RecipeError, apply_overrides, load_recipe, parse_set
    from hushframe.toolkit.training.students import student_from_section

    r = load_recipe("student-cpu")
    m = student_from_section(r["distill"])
    assert m.arch == "student_cpu" and m.config["unshuffle"] == 2 and m.config["convs"] == 1 and m.config["width"] == 16
    apply_overrides(r, "distill", parse_set(["distill.student_options={unshufle = 2}"])["distill"])
    with pytest.raises(RecipeError, match="unshufle not settings of student_cpu"):
        student_from_section(r["distill"])
    p = tmp_path / "r.toml"
    p.write_text('[distill]\nstudent_options = { unshuffle = "two" }\n')
    with pytest.raises(RecipeError, match="distill.student_options"):
        load_recipe(p)
