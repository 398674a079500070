"""Route (a) of issue 26: the temporal AT-BSN teacher (tiny models, synthetic clips)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hushframe.toolkit.models import create_model
from hushframe.toolkit.training import temporal_teacher as TT


def _tiny(**kw):
    torch.manual_seed(0)
    m = create_model("temporal_atbsn", width=8, levels=2, context_width=8, **kw).eval()
    torch.nn.init.normal_(m.fuse3.weight)   # a trained teacher's correction; at init it is zero (the neighbours' mean)
    return m


@pytest.mark.parametrize("k", [1, 5])
@pytest.mark.parametrize("p", [(16, 20), (17, 21)])
@pytest.mark.parametrize("valid", [True, False], ids=["neighbours", "none-valid"])
def test_blind_in_the_current_frame_and_not_in_its_neighbours(k, p, valid):
    m = _tiny()
    x = torch.rand(1, 3, 32, 40, requires_grad=True)
    nb = torch.rand(1, 16, 32, 40)
    if not valid:       # no neighbour valid: the base is the current frame's ring mean outside the blind square
        nb[:, 3::4] = 0
    nb.requires_grad_(True)
    m(x, nb, blind_spot=k)[0, :, p[0], p[1]].sum().backward()
    g = x.grad[0].abs().sum(0)
    by, bx, s = p[0] // 2, p[1] // 2, (k + 1) // 2
    blind = np.zeros(g.shape, bool)
    blind[2 * (by - s + 1):2 * (by + s), 2 * (bx - s + 1):2 * (bx + s)] = True   # k blocks of 2x2 around p's block
    assert float(g[torch.from_numpy(blind)].sum()) == 0.0
    assert float(g[torch.from_numpy(~blind)].sum()) > 0          # it does see the frame around the blind spot
    assert float(nb.grad[0, :, p[0], p[1]].abs().sum()) > 0       # and the neighbours at the pixel itself


def test_several_blind_spots_from_one_pass_equal_single_ones():
    m = _tiny()
    x, nb = torch.rand(1, 3, 24, 32), torch.rand(1, 16, 24, 32)
    with torch.no_grad():
        many = m.forward_many(x, nb, [1, 5])
        assert torch.allclose(many[0], m(x, nb, blind_spot=1)) and torch.allclose(many[1], m(x, nb, blind_spot=5))


def _still_clip(t=5, h=30, w=36, seed=0):
    rng = np.random.default_rng(seed)
    scene = rng.random((h, w, 3)) * 180 + 40
    return [np.clip(scene + rng.normal(0, 6, scene.shape), 0, 255).astype(np.uint8) for _ in range(t)]


def test_neighbours_of_a_still_clip_are_the_frames_themselves_and_missing_ones_are_masked():
    frames = _still_clip()
    nb = TT.neighbour_stack(frames)
    assert nb.shape == (5, 30, 36, 16)
    # frame 2 sees frames 0, 1, 3, 4 exactly (a still scene is taken unresampled), all valid
    for j, k in enumerate((-2, -1, 1, 2)):
        assert (nb[2, ..., 4 * j + 3] == 255).all()
        np.testing.assert_array_equal(nb[2, ..., 4 * j:4 * j + 3], frames[2 + k])
    # frame 0 has no past: masked and black, never a copy of itself
    assert (nb[0, ..., :8] == 0).all() and (nb[0, ..., 11] == 255).all()


def test_train_label_and_read_back_as_a_labels_folder(tmp_path):
    from hushframe.toolkit.teachers.labels import load_labels
    from hushframe.toolkit.weights import load_model

    frames = _still_clip(t=4, h=31, w=36)       # an odd height: labelling pads and crops back
    clip = (np.stack(frames), TT.neighbour_stack(frames))
    cfg = TT.TeacherConfig(width=8, levels=2, context_width=8, steps=3, minutes=None, crop=24, batch=2)
    path, summary = TT.train_teacher([clip], tmp_path / "t", cfg, progress_style="plain")
    assert summary["steps"] == 3 and (tmp_path / "t" / "temporal-teacher.safetensors.manifest.json").exists()
    model = load_model(path)
    assert model.arch == "temporal_atbsn" and model.config["blind_spot"] == cfg.infer_blind_spot
    TT.write_clip_labels(model.eval(), [clip], tmp_path / "labels", 3, log=lambda m: None)
    spec, labels = load_labels(frames, tmp_path / "labels")
    assert spec == "temporal-atbsn:k=3" and [lab.shape for lab in labels] == [f.shape for f in frames]
