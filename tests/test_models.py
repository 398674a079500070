import pytest
import torch

from hushframe.toolkit.models import create_model, list_models
from hushframe.toolkit.models.padding import run_padded
from hushframe.toolkit.weights import WeightsError, load_state_checked


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def test_parameter_counts_match_the_paper():
    assert n_params(create_model("student_c")) == 1_003_011
    assert abs(n_params(create_model("atbsn")) - 1.27e6) < 0.01e6
    assert abs(n_params(create_model("student_a")) - 0.12e6) < 0.015e6
    assert abs(n_params(create_model("student_b")) - 0.86e6) < 0.01e6


def test_student_c_keys_are_the_published_layout():
    keys = set(create_model("student_c").state_dict())
    assert "unet.intro.conv.weight" in keys and "unet.enc6.conv1.conv.weight" in keys
    assert "unet.dec1.conv2.conv.weight" in keys and "unet.dec5.conv2.conv.bias" in keys


def test_leaky_relu_after_the_last_convolution():
    m = create_model("student_c", width=8).eval()
    with torch.no_grad():
        last = m.unet.dec1.conv2.conv
        last.weight.zero_()
        last.bias.fill_(-1.0)  # the conv outputs -1 everywhere
    y = m(torch.rand(1, 3, 32, 32))
    torch.testing.assert_close(y, torch.full_like(y, -0.1))


@pytest.mark.parametrize("name", ["student_a", "student_b", "student_c"])
def test_students_keep_shape(name):
    m = create_model(name, width=8).eval()
    x = torch.rand(2, 3, 45, 70)
    assert run_padded(m, x, m.size_multiple).shape == x.shape


def test_student_c_init_from_teacher_copies_all_but_last_conv():
    t = create_model("atbsn", width=8)
    s = create_model("student_c", width=8)
    copied = s.init_from_teacher(t)
    assert copied == len(s.unet.state_dict()) - 2  # dec1.conv2 weight and bias differ in shape
    torch.testing.assert_close(s.unet.enc3.conv1.conv.weight, t.unet.enc3.conv1.conv.weight)


def test_wrong_architecture_lists_missing_and_unexpected_keys():
    s = create_model("student_c", width=8)
    state = dict(create_model("atbsn", width=8).state_dict())  # teacher weights into a student
    state.pop("unet.intro.conv.bias")
    with pytest.raises(WeightsError) as e:
        load_state_checked(s, state, "ckpt.safetensors")
    msg = str(e.value)
    assert "ckpt.safetensors" in msg and "missing keys" in msg and "unexpected keys" in msg


def test_registry():
    assert {"atbsn", "student_a", "student_b", "student_c"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown model"):
        create_model("nope")


def test_teachers_saved_before_the_edge_fix_keep_their_zero_edges(tmp_path):
    """A teacher file without 'edge' in its config was trained with zero edges: it runs with them."""
    import json

    from safetensors.torch import save_file

    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.weights import FORMAT, load_model, save_model

    t = create_model("atbsn", width=4, levels=2, edge="zeros")
    cfg = {k: v for k, v in t.config.items() if k != "edge"}
    save_file({k: v.contiguous() for k, v in t.state_dict().items()}, str(tmp_path / "old.safetensors"),
              metadata={"format": FORMAT, "arch": "atbsn", "config": json.dumps(cfg)})
    assert load_model(tmp_path / "old.safetensors").edge == "zeros"
    save_model(create_model("atbsn", width=4, levels=2), tmp_path / "new.safetensors")
    assert load_model(tmp_path / "new.safetensors").edge == "replicate"
