"""import-weights: published student C -> safetensors, PSNR on polyu-dev equals the anchor."""

import pickle
import re

import numpy as np
import pytest
import torch

from conftest import run_cli
from hushframe.toolkit.models import create_model
from hushframe.toolkit.weights import WeightsError, load_model, read_foreign_checkpoint, save_model


def test_roundtrip_safetensors(tmp_path):
    m = create_model("atbsn", width=8, levels=3)
    p = save_model(m, tmp_path / "t.safetensors")
    m2 = load_model(p)
    assert m2.arch == "atbsn" and m2.config == m.config
    for (k, a), (_, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k


def test_official_teacher_layout_is_imported(tmp_path):
    ours = create_model("atbsn", width=8, edge="zeros")  # the official code pads with zeros
    renames = {"fuse1.": "nin_A.", "fuse2.": "nin_B.", "fuse3.": "nin_C."}
    official = {}
    for k, v in ours.state_dict().items():
        for a, b in renames.items():
            k = k.replace(a, b)
        official[k] = v
    torch.save({"model_state_dict": official}, tmp_path / "atbsn.pth")
    run_cli("import-weights", tmp_path / "atbsn.pth", "-o", tmp_path / "teacher.safetensors")
    t = load_model(tmp_path / "teacher.safetensors", expect_kind="teacher")
    x = torch.rand(1, 3, 32, 32)
    torch.testing.assert_close(t(x, blind_spot=3), ours.eval()(x, blind_spot=3))


class _Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/hushframe-pwned",))


def test_pickle_that_runs_code_is_refused(tmp_path):
    import os

    marker = "/tmp/hushframe-pwned"
    if os.path.exists(marker):
        os.unlink(marker)
    p = tmp_path / "evil.pth"
    with open(p, "wb") as f:
        pickle.dump({"model_state_dict": _Evil()}, f)
    with pytest.raises(WeightsError, match="refused"):
        read_foreign_checkpoint(p)
    r = run_cli("import-weights", p, "-o", tmp_path / "x.safetensors", check=False)
    assert r.returncode == 2 and "refused" in r.stderr and "Traceback" not in r.stderr
    assert not os.path.exists(marker)
    assert not (tmp_path / "x.safetensors").exists()


def test_corrupt_checkpoint_one_line_error(tmp_path):
    p = tmp_path / "bad.pth"
    p.write_bytes(b"\x80\x04garbage" * 10)
    r = run_cli("import-weights", p, "-o", tmp_path / "x.safetensors", check=False)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "bad.pth" in r.stderr


def _anchor(shared, row_start):
    text = (shared / "reference" / "anchors.md").read_text()
    for line in text.splitlines():
        if line.startswith(row_start):
            return float(re.findall(r"\|\s*([0-9.]+)\s*\|", line)[0])
    raise AssertionError(f"anchor row {row_start!r} not found")


@pytest.mark.shared
def test_imported_student_matches_anchor_psnr(published_student, shared):
    """The CLI-imported weights reproduce the anchor: mean PSNR on all 60 polyu-dev pairs within 0.01 dB.

    The 60 outputs come from the session fixture (the ONNX export run by OpenVINO in f32, or ONNX
    Runtime; the export is checked against PyTorch in test_export_shared.py); here PyTorch itself
    runs the imported .safetensors on two of the pairs and must agree with them, so the check is on
    the imported model, not only on its export."""
    from hushframe.runtime.parity import _safe_name
    from hushframe.core.images import read_uint8, to_uint8
    from hushframe.core.metrics import psnr

    ps = published_student
    assert ps.weights.with_name(ps.weights.name + ".manifest.json").exists()
    assert len(ps.pairs) == 60
    scores = []
    for i, pair in enumerate(ps.pairs):
        noisy, clean = pair.load()
        out = read_uint8(ps.ref / f"{_safe_name(pair.name)}.png")
        scores.append(psnr(clean, out))
        if i in (0, 37):  # PyTorch on the imported weights: the same image, to the rounding of a level
            assert noisy.shape[0] % 32 == 0 and noisy.shape[1] % 32 == 0  # no padding
            # load_model(ps.weights) on noisy / 255, computed once for this and the ONNX check
            y = to_uint8(ps.torch_output(i)[0].transpose(1, 2, 0))
            assert y.shape == out.shape and np.abs(y.astype(int) - out).max() <= 1, pair.name
    anchor = _anchor(shared, "| published SIDD-trained student C")
    print(f"imported student C on polyu-dev ({ps.engine}): {np.mean(scores):.4f} dB (anchor {anchor})")
    assert abs(np.mean(scores) - anchor) <= 0.01


def test_paper_student_c_layout_is_imported_with_its_exact_size(tmp_path):
    """The AT-BSN paper's own student C (enc1..enc6, decN_M, dec1_1): 1,021,107 parameters."""
    ours = create_model("student_c_paper")
    assert sum(p.numel() for p in ours.parameters()) == 1_021_107
    state = ours.state_dict()
    assert {"enc1.conv.weight", "enc6.conv.bias", "dec5_2.conv.weight", "dec2_1.conv.bias", "dec1_1.weight"} <= set(state)
    torch.save({"model_state_dict": state}, tmp_path / "c102.pth")
    p = run_cli("import-weights", tmp_path / "c102.pth", "-o", tmp_path / "c102.safetensors")
    assert "student-c-1.02m (student_c_paper, 1,021,107 parameters)" in p.stdout
    m = load_model(tmp_path / "c102.safetensors", expect_kind="student")
    x = torch.rand(1, 3, 64, 96)
    torch.testing.assert_close(m(x), ours.eval()(x))


@pytest.mark.shared
def test_published_paper_layout_student_imports_and_teaches(shared, tmp_path):
    from hushframe.core.pairs import find_pairs
    from hushframe.core.metrics import psnr
    from hushframe.toolkit.teachers import build_teacher, parse_teacher

    src = shared / "weights" / "aprrd-student-c-1.02m-sidd.pth"
    if not src.exists():
        pytest.skip(f"{src} not found")
    out = tmp_path / "c102.safetensors"
    run_cli("import-weights", src, "-o", out)
    model = load_model(out, expect_kind="student")
    assert model.arch == "student_c_paper" and sum(p.numel() for p in model.parameters()) == 1_021_107
    # As a teacher for distillation: it denoises a real noisy crop (the layout is read right).
    teacher = build_teacher(parse_teacher(f"student:{out}").terms[0])
    gains = [psnr(c, teacher.label_image(n)) - psnr(c, n) for n, c in (p.load() for p in find_pairs(shared / "data" / "polyu-dev")[:3])]
    assert np.mean(gains) > 0.2, gains
