"""Required property test: the teacher's receptive field has exactly a k x k hole."""

import pytest
import torch

from hushframe.toolkit.models import create_model


def _grad_map(model, k, size=48, at=(24, 23)):
    x = torch.rand(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    y = model(x, blind_spot=k)
    y[0, :, at[0], at[1]].sum().backward()
    return x.grad[0].abs().sum(0)


@pytest.fixture(scope="module")
def teacher():
    torch.manual_seed(0)
    # Small but faithful: the same layers, 3 poolings, float64 so "exactly zero" is meaningful.
    return create_model("atbsn", width=8, levels=3).double().eval()


@pytest.mark.parametrize("k", [1, 3, 9])
def test_blind_spot_is_exactly_k_by_k(teacher, k):
    i, j = 24, 23
    g = _grad_map(teacher, k, at=(i, j))
    r = k // 2
    window = g[i - r:i + r + 1, j - r:j + r + 1]
    assert window.shape == (k, k)
    assert torch.count_nonzero(window) == 0, f"k={k}: input inside the blind spot influences the output"
    ring = torch.cat([g[i - r - 1, j - r - 1:j + r + 2], g[i + r + 1, j - r - 1:j + r + 2],
                      g[i - r - 1:i + r + 2, j - r - 1], g[i - r - 1:i + r + 2, j + r + 1]])
    assert torch.count_nonzero(ring) > 0, f"k={k}: nothing just outside the blind spot is seen"
    # All four directions are seen just outside the hole.
    assert g[i - r - 1, j] > 0 and g[i + r + 1, j] > 0 and g[i, j - r - 1] > 0 and g[i, j + r + 1] > 0


def test_k0_sees_the_centre_pixel(teacher):
    g = _grad_map(teacher, 0, at=(24, 23))
    assert g[24, 23] > 0


def test_even_blind_spot_is_rejected(teacher):
    with pytest.raises(ValueError, match="odd"):
        teacher(torch.rand(1, 3, 32, 32, dtype=torch.float64), blind_spot=4)


def test_non_square_and_unpadded_sizes(teacher):
    x = torch.rand(2, 3, 40, 57, dtype=torch.float64)
    assert teacher(x, blind_spot=3).shape == x.shape


def test_shared_features_equal_separate_teachers(teacher):
    x = torch.rand(1, 3, 32, 48, dtype=torch.float64)
    many = teacher.forward_many(x, [0, 1, 5])
    for k, out in zip([0, 1, 5], many):
        torch.testing.assert_close(out, teacher(x, blind_spot=k))
