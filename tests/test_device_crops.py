"""The on-device crop sampler cuts exactly the host loader's crops, and training through
it gives the same weights: the GPU data path changes speed, not results (run on CPU)."""

import numpy as np
import torch

from hushframe.toolkit.data.datasets import CropDataset, make_loader
from hushframe.toolkit.data.device_crops import DeviceCrops


def _images():
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (70, 90, 3), dtype=np.uint8), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)]


def test_device_crops_equal_the_host_loader_bit_for_bit():
    ds = CropDataset(_images(), crop=32, seed=5)
    host = list(make_loader(ds, start_step=3, total_steps=9, batch=4))
    dev = list(DeviceCrops(ds, torch.device("cpu"), start_step=3, total_steps=9, batch=4))
    assert len(host) == len(dev) == 6
    for a, b in zip(host, dev):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert torch.equal(a, b)
    # every one of the 8 dihedral codes is exercised
    assert {ds.params(i)[3] for i in range(200)} == set(range(8))


def test_training_through_device_crops_equals_the_host_loader(tmp_path):
    from hushframe.toolkit.methods.atbsn import teacher_loss
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.training.loop import StageConfig, run_stage

    cfg = StageConfig(iterations=3, batch=2, crop=32, lr=1e-3, checkpoint_every=100, val_every=100, log_every=1)
    weights = []
    for name, flag in (("host", False), ("device", True)):
        torch.manual_seed(0)
        model = create_model("atbsn", width=4, levels=2)
        out = run_stage(stage="teacher", run_dir=tmp_path / name, model=model, dataset=CropDataset(_images(), 32, 1),
                        loss_fn=lambda net, y: teacher_loss(net, y, 3), cfg=cfg, device="cpu", quiet=True,
                        device_crops=flag)
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
        assert out.exists()
    for k in weights[0]:
        assert torch.equal(weights[0][k], weights[1][k]), k


def test_time_budget_pauses_with_a_checkpoint_and_resume_equals_one_run(tmp_path):
    """max_minutes: a long schedule in pieces (GPU machines are lent for minutes at a time)."""
    import pytest

    from hushframe.toolkit.recipes import load_recipe
    from hushframe.toolkit.training.loop import TrainingPaused
    from hushframe.toolkit.methods.atbsn import train_teacher
    from hushframe.toolkit.weights import load_model

    sec = dict(load_recipe("quick-cpu")["teacher"])
    sec.update(width=4, levels=2, crop=16, batch=2, iterations=5, checkpoint_every=100, log_every=1, val_every=1000)
    imgs = _images()
    whole = load_model(train_teacher(imgs, sec, tmp_path / "whole", quiet=True))
    with pytest.raises(TrainingPaused, match="paused at step 1 of 5.*--resume") as e:
        train_teacher(imgs, dict(sec, max_minutes=1e-9), tmp_path / "pieces", quiet=True)
    assert e.value.step == 1 and e.value.checkpoint.exists()
    pieces = load_model(train_teacher(imgs, sec, tmp_path / "pieces", resume=True, quiet=True))
    sa, sb = whole.state_dict(), pieces.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
