"""Teacher training and distillation at tiny widths: resume, NaN, checkpoints, logs."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from hushframe.toolkit.recipes import load_recipe
from hushframe.toolkit.training.checkpoint import find_latest
from hushframe.toolkit.training.loop import TrainingError
from hushframe.toolkit.methods.atbsn import distill_student, train_teacher
from hushframe.toolkit.weights import load_model


def _images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (48, 56, 3), dtype=np.uint8) for _ in range(n)]


def _teacher_section(**kw):
    sec = dict(load_recipe("quick-cpu")["teacher"])
    sec.update(width=4, levels=2, crop=16, batch=2, iterations=6, checkpoint_every=2, log_every=1, val_every=1000)
    sec.update(kw)
    return sec


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_resume_continues_at_the_same_step_and_matches_an_uninterrupted_run(tmp_path):
    imgs = _images()
    full = train_teacher(imgs, _teacher_section(), tmp_path / "full", quiet=True)
    # "Kill" after 4 steps: train a 4-step prefix with the same schedule length...
    part = _teacher_section()
    with pytest.raises(KeyboardInterrupt):
        train_teacher(imgs, part, tmp_path / "part", quiet=True, device="cpu",
                      source={"stop_after": 4}) if False else _interrupt_after(imgs, part, tmp_path / "part", 4)
    ck = find_latest(tmp_path / "part" / "checkpoints" / "teacher")
    assert json.loads((ck / "state.json").read_text())["step"] == 4
    resumed = train_teacher(imgs, part, tmp_path / "part", resume=True, quiet=True)
    assert _same_weights(load_model(full), load_model(resumed))
    log = (tmp_path / "part" / "teacher-log.csv").read_text().splitlines()
    assert log[0].startswith("step,loss,lr") and len(log) > 4


def _interrupt_after(imgs, section, run_dir, n):
    """Raise KeyboardInterrupt inside the loop after n steps (as Ctrl-C would)."""
    from hushframe.toolkit.training import loop

    orig = loop.Progress.update

    def update(self, step, **fields):
        orig(self, step, **fields)
        if step == n:
            raise KeyboardInterrupt

    loop.Progress.update = update
    try:
        train_teacher(imgs, section, run_dir, quiet=True)
    finally:
        loop.Progress.update = orig


def test_existing_run_needs_resume(tmp_path):
    train_teacher(_images(), _teacher_section(iterations=2), tmp_path, quiet=True)
    with pytest.raises(TrainingError, match="--resume"):
        train_teacher(_images(), _teacher_section(iterations=2), tmp_path, quiet=True)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    imgs = _images()
    sec = _teacher_section(iterations=4, checkpoint_every=2)
    from hushframe.toolkit.methods import atbsn

    orig = atbsn.teacher_loss
    calls = {"n": 0}

    def bad(model, y, k):
        calls["n"] += 1
        loss = orig(model, y, k)
        return loss * float("nan") if calls["n"] == 3 else loss

    atbsn.teacher_loss = bad
    try:
        with pytest.raises(TrainingError, match="loss became nan at step 2.*step-00000002"):
            train_teacher(imgs, sec, tmp_path, quiet=True)
    finally:
        atbsn.teacher_loss = orig
    assert find_latest(tmp_path / "checkpoints" / "teacher").name == "step-00000002"


def test_corrupt_latest_checkpoint_falls_back(tmp_path):
    train_teacher(_images(), _teacher_section(iterations=4, checkpoint_every=2), tmp_path, quiet=True)
    root = tmp_path / "checkpoints" / "teacher"
    (root / "step-00000004" / "model.safetensors").write_bytes(b"torn write")
    assert find_latest(root).name == "step-00000002"


def test_distillation_shared_features_equal_naive_loss():
    from hushframe.toolkit.methods.atbsn import distill_loss, naive_distill_loss
    from hushframe.toolkit.models import create_model

    torch.manual_seed(0)
    t = create_model("atbsn", width=4, levels=2).eval()
    s = create_model("student_c", width=4, levels=2)
    y = torch.rand(2, 3, 16, 16)
    ks = [0, 1, 3, 5, 7, 9, 11]
    torch.testing.assert_close(distill_loss(s, t, y, ks), naive_distill_loss(s, t, y, ks))


@pytest.mark.parametrize("mode", ["multi", "mean"])
def test_distill_stage_runs_and_records_its_teacher(tmp_path, mode):
    imgs = _images()
    teacher = train_teacher(imgs, _teacher_section(iterations=2), tmp_path, quiet=True)
    sec = dict(load_recipe("quick-cpu")["distill"])
    sec.update(width=4, levels=2, crop=16, batch=2, iterations=3, checkpoint_every=3, mode=mode, init_from_teacher=True,
               val_every=1000)
    student = distill_student(imgs, sec, teacher, tmp_path, quiet=True)
    m = load_model(student, expect_kind="student")
    assert m.size_multiple == 4
    man = json.loads((tmp_path / "student.safetensors.manifest.json").read_text())
    assert man["source"]["teacher"].endswith("teacher.safetensors") and man["settings"]["mode"] == mode


def test_ddp_two_processes_hold_identical_weights(tmp_path):
    """torchrun, 2 CPU processes, gloo: both ranks end with the same weights."""
    script = tmp_path / "ddp_run.py"
    script.write_text(f"""
import hashlib, os, sys, numpy as np, torch
torch.set_num_threads(1)
from hushframe.toolkit.recipes import load_recipe
from hushframe.toolkit.methods.atbsn import train_teacher
from hushframe.toolkit.training import loop
sec = dict(load_recipe("quick-cpu")["teacher"])
sec.update(width=4, levels=2, crop=16, batch=2, iterations=3, checkpoint_every=3, log_every=1, val_every=1000)
rng = np.random.default_rng(0)
imgs = [rng.integers(0, 256, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
captured = {{}}
orig = loop.save_checkpoint
def keep(root, step, model, opt, extra, keep=3):
    captured['m'] = model
    return orig(root, step, model, opt, extra, keep)
loop.save_checkpoint = keep
# every rank trains; rank 0 writes files
import torch.nn as nn
orig_run = loop.run_stage
def run_stage(**kw):
    out = orig_run(**kw)
    h = hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in kw["model"].state_dict().values())).hexdigest()
    open(os.path.join(r"{tmp_path}", f"rank{{os.environ['RANK']}}.sha"), "w").write(h)
    return out
import hushframe.toolkit.methods.atbsn as st
st.run_stage = run_stage
train_teacher(imgs, sec, r"{tmp_path / 'run'}", device="cpu", quiet=True)
""")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                        str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    h0, h1 = (tmp_path / "rank0.sha").read_text(), (tmp_path / "rank1.sha").read_text()
    assert h0 == h1
    assert (tmp_path / "run" / "teacher.safetensors").exists()
    # The ranks really trained (weights moved away from the seed-0 initialisation).
    assert json.loads((tmp_path / "run" / "teacher.safetensors.manifest.json").read_text())["settings"]["world_size"] == 2
