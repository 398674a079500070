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
def test_imported_student_matches_anchor_psnr(shared, tmp_path):
    out = tmp_path / "student-c-sidd.safetensors"
    run_cli("import-weights", shared / "weights" / "aprrd-student-c-1.00m-sidd.pth", "-o", out)
    assert (tmp_path / "student-c-sidd.safetensors.manifest.json").exists()
    from hushframe.toolkit.data.images import to_uint8
    from hushframe.toolkit.data.pairs import find_pairs
    from hushframe.toolkit.eval.metrics import psnr

    model = load_model(out)
    pairs = find_pairs(shared / "data" / "polyu-dev")
    assert len(pairs) == 60
    data = [p.load() for p in pairs]
    assert {n.shape for n, _ in data} == {(512, 512, 3)}  # a multiple of 32: no padding, so batches of 6
    scores = []
    for i in range(0, len(data), 6):  # batched: 25% less CPU time than one image at a time
        x = torch.from_numpy(np.stack([n for n, _ in data[i:i + 6]]).astype(np.float32) / 255).permute(0, 3, 1, 2)
        with torch.inference_mode():
            y = model(x).permute(0, 2, 3, 1).numpy()
        scores += [psnr(clean, to_uint8(out)) for (_, clean), out in zip(data[i:i + 6], y)]
    anchor = _anchor(shared, "| published SIDD-trained student C")
    print(f"imported student C on polyu-dev: {np.mean(scores):.4f} dB (anchor {anchor})")
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
    from hushframe.toolkit.data.pairs import find_pairs
    from hushframe.toolkit.eval.metrics import psnr
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
