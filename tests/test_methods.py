"""APR-RD, BNN-LAN and AMSNet recipes at tiny widths: method pieces, stages, CLI, export, recipe errors."""

import json

import numpy as np
import pytest
import torch

from conftest import run_cli
from hushframe.toolkit.methods import aprrd, bnn_lan
from hushframe.toolkit.models import amsnet as ams
from hushframe.toolkit.models import create_model
from hushframe.toolkit.models.lan import LAN
from hushframe.toolkit.methods.run import distill_recipe, train_recipe
from hushframe.toolkit.recipes import RecipeError, load_recipe
from hushframe.toolkit.weights import load_model

QUICK = {"aprrd": "aprrd-quick", "bnn-lan": "bnn-lan-quick", "amsnet": "amsnet-quick"}


def _images(n=3, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (40, 48, 3), dtype=np.uint8) for _ in range(n)]


def _tiny(method):
    r = load_recipe(QUICK[method])
    small = dict(width=4, levels=2, crop=16, batch=2, iterations=2, checkpoint_every=2, log_every=1, val_every=1000)
    r["teacher"].update(small)
    r["distill"].update(small)
    r["lan"].update(small, width=4, blocks=1)
    if method == "amsnet":
        r["teacher"].update(crop=24, levels=1)  # stride 5 -> 4x4 sub-images (1 pooling)
    return r


# ---- method pieces -------------------------------------------------------------------------

def test_apr_pairs_take_two_distinct_neighbours_of_every_pixel():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(2 * 3 * 9 * 11, dtype=torch.float32).view(2, 3, 9, 11)
    h1, h2, (i1, i2) = aprrd.apr_pair(y, 3, g)
    assert (i1 != i2).all() and h1.shape == y.shape
    stack = aprrd.window_stack(y, 3)  # B, 9, C, H, W
    for h, idx in ((h1, i1), (h2, i2)):
        # every output pixel equals one of its 3x3 neighbours, the same one in all channels
        assert torch.equal(h, stack.gather(1, idx.unsqueeze(1).expand(2, 1, 3, 9, 11)).squeeze(1))
    interior = (h1 != h2)[:, :, 1:-1, 1:-1]
    assert interior.all()  # distinct positions of a strictly increasing image differ


def test_apr_loss_is_the_paper_eq6_and_lambda_zero_drops_the_regulariser():
    torch.manual_seed(0)
    t = load_model_free("atbsn")
    y = torch.rand(2, 3, 16, 16)
    torch.manual_seed(1)
    l4 = aprrd.apr_teacher_loss(t, y, 9, 4.0)
    torch.manual_seed(1)
    l0 = aprrd.apr_teacher_loss(t, y, 9, 0.0)
    assert l4 > l0 > 0
    l4.backward()
    assert all(p.grad is not None for p in t.parameters())


def load_model_free(arch, **kw):
    from hushframe.toolkit.models import create_model

    return create_model(arch, width=4, levels=2, **kw)


def test_recharge_partitions_pixels_into_equal_disjoint_subsets():
    y = torch.rand(2, 3, 12, 12)
    masks = aprrd.recharge_masks(y, 6)
    assert masks.shape == (6, 2, 1, 12, 12)
    assert torch.equal(masks.sum(0), torch.ones(2, 1, 12, 12, dtype=torch.long))
    assert (masks.flatten(2).sum(-1) == 144 // 6).all()
    targets = [torch.full_like(y, float(i)) for i in range(6)]
    rech = aprrd.recharge(targets, y)
    filled = sum(((r == y).all(1, keepdim=True)).long() for r in rech)
    assert torch.equal(filled, torch.ones_like(filled))  # each pixel of y lands in exactly one target
    assert aprrd.rd_blind_spots(6) == [0, 1, 3, 5, 7, 9]


def test_flatness_alpha_follows_the_piecewise_sigmoid():
    flat = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(bnn_lan.flatness_alpha(flat), torch.sigmoid(torch.tensor(-1.0)))
    stripes = torch.zeros(1, 3, 16, 16)
    stripes[..., ::2] = 1.0  # std ~127 in 0-255 units
    assert (bnn_lan.flatness_alpha(stripes) > 0.99).all()
    mid = torch.full((1, 3, 16, 16), 0.5) + (torch.arange(16) % 2).float() * (6 / 255.0)  # std ~3
    assert torch.allclose(bnn_lan.flatness_alpha(mid)[..., 4:-4, 4:-4], torch.tensor(0.5))


def test_lan_receptive_field_is_local():
    lan = LAN(width=4, receptive=3, blocks=1)
    torch.nn.init.normal_(lan.tail.weight)
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    lan(x)[0, :, 6, 6].sum().backward()
    g = x.grad[0].abs().sum(0)
    # the only far influence is the channel attention's global pooling, far weaker than the 3x3 window
    assert g[5:8, 5:8].min() > 0 and g[:, :4].max() < 0.1 * g[5:8, 5:8].max()


def test_pixel_shuffle_round_trip_and_complementary_masks_cover_every_pixel():
    x = torch.rand(2, 3, 10, 15)
    assert torch.equal(ams.pd_up(ams.pd_down(x, 5), 5), x)
    sub = ams.pd_down(x, 5)
    assert sub.shape == (50, 3, 2, 3) and torch.equal(sub[1], x[:, :, 0::5, 1::5][0])
    assign = ams.branch_assignment(sub.shape, 2, "cpu")
    restored = sum((assign == i).long() for i in range(2))
    assert torch.equal(restored, torch.ones_like(restored))


def test_amsnet_masked_pixels_never_see_themselves():
    """A pixel restored by branch i is zero in that branch's input: changing it does not change its output."""
    torch.manual_seed(0)
    m = create_model("amsnet", denoiser="student_c", width=4, levels=1, infer_stride=2, branches=2).eval()
    x = torch.rand(1, 3, 8, 8)
    g = torch.Generator().manual_seed(3)
    sub = ams.pd_down(x, 2)
    assign = ams.branch_assignment(sub.shape, 2, "cpu", torch.Generator().manual_seed(3))
    out = m(x, generator=g)
    # find a sub-image pixel and perturb it in the full image
    b, r, c = 0, 1, 2
    i = int(assign[b, 0, r, c])
    x2 = x.clone()
    x2[0, :, r * 2 + 0, c * 2 + 0] += 1.0  # sub-image 0 <-> offset (0, 0)
    out2 = m(x2, generator=torch.Generator().manual_seed(3))
    assert i in (0, 1)
    assert torch.allclose(out[0, :, 2, 4], out2[0, :, 2, 4])


# ---- recipes -------------------------------------------------------------------------------

@pytest.mark.parametrize("text,err", [
    ("method = \"aprrd\"\n[aprrd]\nlambda = -1.0", r"aprrd\.lambda.*out of range; allowed: a non-negative number"),
    ("method = \"aprrd\"\n[teacher]\ntrain_blind_spot = 8", r"teacher\.train_blind_spot.*0 or a positive odd"),
    ("method = \"aprrd\"\n[aprrd]\nwindow = 4", r"aprrd\.window.*an odd number >= 3"),
    ("method = \"aprrd\"\n[aprrd]\nlamda = 4.0", r"unknown key 'aprrd\.lamda'.*allowed: lambda, recharge, window"),
    ("method = \"bnn-lan\"\n[lan]\nreceptive = 2", r"lan\.receptive.*odd"),
    ("method = \"bnn-lan\"\n[bnn-lan]\nlow = -1.0", r"bnn-lan\.low.*non-negative"),
    ("method = \"amsnet\"\n[amsnet]\nsmooth_lambda = -0.1", r"amsnet\.smooth_lambda.*non-negative"),
    ("method = \"amsnet\"\n[amsnet]\nmask_ratio = 1.5", r"amsnet\.mask_ratio.*strictly between 0 and 1"),
    ("method = \"amsnet\"\n[amsnet]\nbranches = 1", r"amsnet\.branches.*>= 2"),
    ("method = \"amsnet\"\n[amsnet]\ndenoiser = \"resnet\"", r"amsnet\.denoiser.*student_a, student_b, student_c"),
    ("method = \"noise2magic\"", r"'method' = 'noise2magic' is unknown; allowed: amsnet, aprrd, atbsn, bnn-lan"),
])
def test_method_recipe_errors_name_the_key_and_allowed_values(tmp_path, text, err):
    p = tmp_path / "r.toml"
    p.write_text(text + "\n")
    with pytest.raises(RecipeError, match=err):
        load_recipe(p)


def test_bnn_lan_needs_one_blind_neighbourhood():
    r = load_recipe("bnn-lan-quick")
    r["teacher"]["infer_blind_spot"] = 3
    with pytest.raises(RecipeError, match="teacher.infer_blind_spot.*teacher.train_blind_spot"):
        train_recipe(_images(), r, "unused")


def test_method_recipes_hold_the_paper_settings():
    a = load_recipe("aprrd")
    assert a["aprrd"]["lambda"] == 4.0 and a["teacher"]["train_blind_spot"] == 9 and a["distill"]["teachers"] == [0, 1, 3, 5, 7, 9]
    b = load_recipe("bnn-lan")
    assert b["teacher"]["train_blind_spot"] == b["teacher"]["infer_blind_spot"] == 9 and b["lan"]["receptive"] == 3
    assert (b["bnn-lan"]["sigma_window"], b["bnn-lan"]["low"], b["bnn-lan"]["high"]) == (7, 1.0, 5.0)
    c = load_recipe("amsnet")
    assert (c["amsnet"]["train_stride"], c["amsnet"]["infer_stride"], c["amsnet"]["branches"]) == (5, 2, 2)
    assert c["amsnet"]["mask_ratio"] == 0.5 and c["amsnet"]["smooth_lambda"] == 0.01


# ---- stages end to end ---------------------------------------------------------------------

@pytest.mark.parametrize("method", ["aprrd", "bnn-lan", "amsnet"])
def test_method_trains_and_distils_a_student_that_exports(tmp_path, method):
    imgs = _images()
    r = _tiny(method)
    if method == "amsnet":
        r["amsnet"]["smooth_iterations"] = 2  # exercise the AMSNet-P fine-tune stage too
    first = train_recipe(imgs, r, tmp_path, quiet=True)
    expect = {"aprrd": "teacher.safetensors", "bnn-lan": "lan.safetensors", "amsnet": "amsnet.safetensors"}[method]
    assert first.name == expect and first.exists()
    teacher = tmp_path / ("amsnet.safetensors" if method == "amsnet" else "teacher.safetensors")
    student = distill_recipe(imgs, r, teacher, tmp_path, quiet=True)
    m = load_model(student, expect_kind="student")
    assert m.arch == "student_c"
    man = json.loads((tmp_path / "student.safetensors.manifest.json").read_text())
    assert man["settings"]["method"] == method and man["source"]["teacher"].endswith(teacher.name)
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from hushframe.export.onnx_export import export_onnx

    out = export_onnx(student, tmp_path / "student.onnx")
    assert out.exists()


def test_bnn_lan_resume_skips_the_finished_bnn(tmp_path):
    imgs = _images()
    r = _tiny("bnn-lan")
    train_recipe(imgs, r, tmp_path, quiet=True)
    before = (tmp_path / "teacher.safetensors").stat().st_mtime_ns
    r["lan"]["iterations"] = 4  # continue the LAN from its last checkpoint
    assert train_recipe(imgs, r, tmp_path, resume=True, quiet=True).name == "lan.safetensors"
    assert (tmp_path / "teacher.safetensors").stat().st_mtime_ns == before
    log = (tmp_path / "lan-log.csv").read_text().splitlines()
    assert log[-1].startswith("4,")


def test_cli_train_and_distill_with_a_method_recipe(tmp_path):
    from PIL import Image

    data = tmp_path / "data"
    data.mkdir()
    for i, im in enumerate(_images()):
        Image.fromarray(im).save(data / f"{i}.png")
    sets = ["--set", "teacher.width=4", "--set", "teacher.levels=2", "--set", "teacher.crop=16", "--set", "teacher.batch=2",
            "--set", "aprrd.lambda=2.0"]
    run_cli("train", data, "-o", tmp_path / "run", "--recipe", "aprrd-quick", "--iterations", "2", *sets)
    dsets = ["--set", "distill.levels=2", "--set", "distill.crop=16", "--set", "distill.batch=2"]
    run_cli("distill", data, "-t", tmp_path / "run" / "teacher.safetensors", "-o", tmp_path / "run", "--recipe", "aprrd-quick",
            "--iterations", "2", "--width", "4", *dsets)
    man = json.loads((tmp_path / "run" / "teacher.safetensors.manifest.json").read_text())
    assert man["settings"]["lambda"] == 2.0
    assert load_model(tmp_path / "run" / "student.safetensors", expect_kind="student").arch == "student_c"
    r = run_cli("train", data, "-o", tmp_path / "bad", "--recipe", "aprrd-quick", "--set", "aprrd.lambda=-4", check=False)
    assert r.returncode == 2 and "aprrd.lambda" in r.stderr and "non-negative" in r.stderr and "Traceback" not in r.stderr
