import json

import numpy as np
from PIL import Image

from conftest import run_cli
from hushframe.toolkit.models import create_model
from hushframe.toolkit.training.adapt import teacher_from_student
from hushframe.toolkit.weights import save_model


def test_teacher_seeded_from_student_c_shares_its_unet():
    s = create_model("student_c", width=4, levels=2)
    t = teacher_from_student(s)
    assert t.config["width"] == 4 and t.config["levels"] == 2
    import torch

    torch.testing.assert_close(t.unet.enc2.conv1.conv.weight, s.unet.enc2.conv1.conv.weight)


def test_adapt_reports_before_and_after(tmp_path):
    rng = np.random.default_rng(0)
    frames, pairs = tmp_path / "frames", tmp_path / "pairs"
    frames.mkdir(); pairs.mkdir()
    for i in range(2):
        clean = rng.integers(60, 200, (40, 48, 3), dtype=np.uint8)
        noisy = np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(frames / f"f{i}.png")
        Image.fromarray(noisy).save(pairs / f"p{i}_real.png")
        Image.fromarray(clean).save(pairs / f"p{i}_mean.png")
    save_model(create_model("student_c", width=4, levels=2), tmp_path / "deployed.safetensors")
    run_cli("adapt", frames, "--student", tmp_path / "deployed.safetensors", "-o", tmp_path / "run",
            "--teacher-steps", "2", "--distill-steps", "2", "--crop", "16", "--batch", "2", "--pairs", pairs)
    rep = json.loads((tmp_path / "run" / "adapt-report.json").read_text())
    assert {"before", "after", "gain_db"} <= set(rep) and rep["images"] == 2
    assert (tmp_path / "run" / "student.safetensors").exists()
