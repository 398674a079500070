import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from hushframe.toolkit.models import create_model
from hushframe.toolkit.training.adapt import no_reference_check, split_holdout, teacher_from_student
from hushframe.toolkit.weights import save_model


def test_teacher_seeded_from_student_c_shares_its_unet():
    s = create_model("student_c", width=4, levels=2)
    t = teacher_from_student(s)
    assert t.config["width"] == 4 and t.config["levels"] == 2
    import torch

    torch.testing.assert_close(t.unet.enc2.conv1.conv.weight, s.unet.enc2.conv1.conv.weight)


def _camera(tmp_path, n=2, size=(64, 48)):
    rng = np.random.default_rng(0)
    frames, pairs = tmp_path / "frames", tmp_path / "pairs"
    frames.mkdir(); pairs.mkdir()
    for i in range(n):
        clean = np.repeat(np.linspace(60, 200, size[1], dtype=np.float32)[None, :, None], size[0], 0).repeat(3, 2)
        noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(frames / f"f{i}.png")
        Image.fromarray(noisy).save(pairs / f"p{i}_real.png")
        Image.fromarray(clean.astype(np.uint8)).save(pairs / f"p{i}_mean.png")
    save_model(create_model("student_c", width=4, levels=2), tmp_path / "deployed.safetensors")
    return frames, pairs


def test_adapt_with_pairs_ships_the_better_model_and_says_which(tmp_path):
    frames, pairs = _camera(tmp_path)
    p = run_cli("adapt", frames, "--student", tmp_path / "deployed.safetensors", "-o", tmp_path / "run",
                "--teacher", "ffmpeg:nlmeans=s=4", "--distill-steps", "3", "--crop", "32", "--batch", "2", "--pairs", pairs)
    rep = json.loads((tmp_path / "run" / "adapt-report.json").read_text())
    assert {"before", "after", "gain_db", "kept", "why"} <= set(rep) and rep["images"] == 2
    shipped = (tmp_path / "run" / "student.safetensors").read_bytes()
    again = run_cli("adapt", frames, "--student", tmp_path / "deployed.safetensors", "-o", tmp_path / "run",
                    "--teacher", "ffmpeg:nlmeans=s=4", "--pairs", pairs, check=False)
    assert again.returncode != 0 and "already holds an adapted student" in again.stderr and "Traceback" not in again.stderr
    if rep["after"]["psnr"] > rep["before"]["psnr"]:
        assert rep["kept"] == "adapted" and shipped == (tmp_path / "run" / "student-adapted.safetensors").read_bytes()
    else:
        assert rep["kept"] == "deployed" and shipped == (tmp_path / "deployed.safetensors").read_bytes()
        assert "ships unchanged" in p.stdout


def test_a_worse_adapted_model_never_ships(tmp_path):
    """judge(): the adapted student that lost PSNR on the pairs is not what ships."""
    import torch

    from hushframe.core.pairs import find_pairs
    from hushframe.toolkit.training.adapt import judge

    rng = np.random.default_rng(2)
    pairs = tmp_path / "pairs"
    pairs.mkdir()
    dark = rng.integers(0, 8, (32, 32, 3), dtype=np.uint8)  # a fresh student outputs ~0: close to this
    Image.fromarray(dark).save(pairs / "a_real.png"); Image.fromarray(dark).save(pairs / "a_mean.png")
    good = create_model("student_c", width=4, levels=2)
    bad = create_model("student_c", width=4, levels=2)
    with torch.no_grad():
        bad.unet.dec1.conv2.conv.bias.fill_(5.0)  # everything white: a destroyed model
    save_model(good, tmp_path / "deployed.safetensors"); save_model(bad, tmp_path / "adapted.safetensors")
    rep = judge(tmp_path / "deployed.safetensors", tmp_path / "adapted.safetensors", tmp_path, pairs=find_pairs(pairs))
    assert rep["kept"] == "deployed" and rep["gain_db"] < -10 and "ships unchanged" in rep["why"]
    assert (tmp_path / "student.safetensors").read_bytes() == (tmp_path / "deployed.safetensors").read_bytes()


def test_adapt_without_pairs_reports_a_no_reference_check(tmp_path):
    frames, _ = _camera(tmp_path, size=(400, 48))
    p = run_cli("adapt", frames, "--student", tmp_path / "deployed.safetensors", "-o", tmp_path / "run",
                "--teacher", "ffmpeg:nlmeans=s=4", "--distill-steps", "2", "--crop", "32", "--batch", "2")
    rep = json.loads((tmp_path / "run" / "adapt-report.json").read_text())
    nr = rep["no_reference"]
    assert nr["before"]["strips"] == 2 and {"residual_noise", "residual_structure", "teacher_psnr"} <= set(nr["after"])
    assert "cannot say" in rep["no_reference_limits"] and rep["kept"] == "adapted"
    assert "no reference" in p.stdout


def test_holdout_strips_and_no_reference_figures():
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 256, (400, 64, 3), dtype=np.uint8), rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)]
    train, held = split_holdout(imgs, crop=32)
    assert train[0].shape[0] == 360 and held[0].shape[0] == 40 and len(held) == 1 and train[1].shape[0] == 40

    class Identity:
        size_multiple = 1

        def __call__(self, x):
            return x

        def eval(self):
            return self

    flat = np.full((64, 64, 3), 128, np.uint8)
    noisy = np.clip(flat + rng.normal(0, 6, flat.shape), 0, 255).astype(np.uint8)
    r = no_reference_check(Identity(), [noisy])
    assert 4 < r["residual_noise"] < 8  # the identity leaves all the noise (sigma 6)


def test_anchor_mixes_the_deployed_student_into_the_target(tmp_path):
    from hushframe.toolkit.training.adapt import with_anchor

    s = with_anchor("0.7*ffmpeg:nlmeans=s=4+0.3*ffmpeg:dctdnoiz=sigma=4", tmp_path / "d.safetensors", 0.2)
    assert [(t.kind, round(t.weight, 6)) for t in s.terms] == [("ffmpeg", 0.56), ("ffmpeg", 0.24), ("student", 0.2)]
    assert with_anchor("ffmpeg:nlmeans=s=3", tmp_path / "d.safetensors", 0.0).text == "ffmpeg:nlmeans=s=3"
