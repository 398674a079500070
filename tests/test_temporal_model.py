"""The temporal student's structure (models/temporal.py) and its state contract (core/temporal.py)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


def _tiny(noise_model="linear"):
    from hushframe.toolkit.models.registry import create_model
    from hushframe.toolkit.models.students import CPUStudent

    torch.manual_seed(0)
    s = CPUStudent(width=8, convs=1)
    torch.nn.init.normal_(s.tail.weight, std=0.05)   # a non-identity per-frame student
    m = create_model("temporal_cpu", width=8, gate_width=8, noise_model=noise_model)
    if noise_model == "encoded":
        m.set_noise(2e-3, 1e-5, 2.0)
    m.init_from_student(s)
    torch.nn.init.normal_(m.extra.weight, std=0.05)
    return m.eval(), s.eval()


def test_first_frame_is_the_per_frame_student_exactly():
    m, s = _tiny()
    x = torch.rand(1, 3, 32, 48)
    with torch.no_grad():
        y, state = m(x)
        assert torch.equal(y, s(x))            # extra inputs vanish at n = 1: no bias, zero deviation
        y0, _ = m(x, torch.zeros_like(state))  # an explicit zero state is the same reset
    assert torch.equal(y0, y)
    assert state.shape == (1, 4, 32, 48)
    assert torch.allclose(state[:, 3], torch.ones(1, 32, 48))
    assert torch.allclose(state[:, :3], x)


def test_a_static_scene_accumulates_and_the_count_is_bounded():
    m, _ = _tiny()
    clean = torch.rand(1, 3, 32, 32)
    state = None
    with torch.no_grad():
        torch.nn.init.constant_(m.gate[-1].bias, 20.0)   # gate fully open: a plain running mean
        frames = [clean + 0.05 * torch.randn_like(clean) for _ in range(40)]
        for k, f in enumerate(frames, 1):
            _, state = m(f, state)
            if k == 10:
                assert torch.allclose(state[:, :3], torch.stack(frames[:10]).mean(0), atol=1e-5)
    assert float(state[:, 3].max()) == pytest.approx(m.n_max)


def test_align_state_moves_history_with_the_flow_and_drops_what_left_the_frame():
    pytest.importorskip("cv2")
    from hushframe.core.temporal import align_state

    st = np.zeros((1, 4, 8, 8), np.float32)
    st[0, :, :, 3] = 1.0                                  # a bright column at x = 3
    flow = np.zeros((8, 8, 2), np.float32)
    flow[..., 0] = -2.0                                   # cur(p) = prev(p - 2): the scene moved right by 2
    out = align_state(st, flow)
    assert np.allclose(out[0, :, :, 5], 1.0) and out[0, :, :, 3].max() == 0.0
    assert np.all(out[0, 3, :, :2] == 0.0)                # columns 0-1 came from outside: no history


def test_the_gate_keeps_history_within_the_noise_and_drops_history_that_is_far_off():
    """Untrained, the gate is its motion detector alone: history that agrees with the frame to within the
    camera's noise (the initial noise model's, ~0.011 at mid grey) is kept, history of another scene is not."""
    from hushframe.toolkit.models.registry import create_model

    torch.manual_seed(0)
    m = create_model("temporal_cpu", width=8, gate_width=8).eval()
    clean = 0.3 + 0.4 * torch.rand(1, 3, 32, 32)
    frame = clean + 0.011 * torch.randn_like(clean)
    n = torch.full((1, 1, 32, 32), 10.0)
    with torch.no_grad():
        agrees = m.gate_values(frame, clean, n)
        elsewhere = m.gate_values(frame, torch.roll(clean, 5, dims=3), n)   # misaligned history
    assert float(agrees.mean()) > 0.85
    assert float(elsewhere.mean()) < 0.3


def test_the_encoded_noise_model_keeps_a_still_dark_scene_and_drops_other_history():
    """The encoded model's noise is largest in the shadows, as a camera's gamma-encoded noise is: history
    of a still dark scene whose frames differ by that noise is kept, history of another scene is not."""
    from hushframe.toolkit.models.registry import create_model
    from hushframe.toolkit.models.temporal import encoded_variance

    torch.manual_seed(0)
    m = create_model("temporal_cpu", width=8, gate_width=8, noise_model="encoded").eval()
    m.set_noise(1e-3, 1e-5, 2.2)
    assert float(m.noise_variance(torch.tensor(0.1))) > 3 * float(m.noise_variance(torch.tensor(0.8)))
    clean = 0.08 + 0.04 * torch.rand(1, 3, 32, 32)
    sd = float(encoded_variance(0.1, 1e-3, 1e-5, 2.2)) ** 0.5
    frame = clean + sd * torch.randn_like(clean)
    n = torch.full((1, 1, 32, 32), 10.0)
    with torch.no_grad():
        agrees = m.gate_values(frame, clean, n)
        elsewhere = m.gate_values(frame, torch.roll(clean, 5, dims=3) + 0.2, n)
    assert float(agrees.mean()) > 0.85
    assert float(elsewhere.mean()) < 0.3
    with pytest.raises(ValueError, match="noise_model"):
        create_model("temporal_cpu", noise_model="log")


def test_align_state_is_the_training_warp():
    """The runtime's alignment (OpenCV remap) and the training's (torch grid_sample) are the same bicubic
    resampling: what the model learned with is what it runs with."""
    pytest.importorskip("cv2")
    from hushframe.core.temporal import align_state
    from hushframe.toolkit.training.temporal import warp_state

    rng = np.random.default_rng(0)
    st = rng.random((1, 4, 24, 40)).astype(np.float32)
    flow = ((rng.random((24, 40, 2)) - 0.5) * 6).astype(np.float32)
    a = align_state(st, flow)
    b = warp_state(torch.from_numpy(st), torch.from_numpy(flow)[None]).numpy()
    assert np.abs(a - b).max() < 1e-4


def test_the_flow_is_zero_on_a_still_scene_and_follows_motion():
    """DIS on two noisy frames of a still scene returns sub-pixel flow noise; the still test replaces it by
    an exact zero (no resampling of the history), and leaves real motion alone."""
    pytest.importorskip("cv2")
    from hushframe.core.temporal import FlowEstimator, gray_for_flow
    from hushframe.runtime import testing as T

    rng = np.random.default_rng(0)
    clean = T.smooth_frames(1, 128, 160, seed=3, noise=0)[0].astype(np.float32)
    clean = clean + 40 * (rng.random(clean.shape[:2]) > 0.5)[..., None]     # texture the flow can lock on

    def noisy(img):
        return np.clip(img + rng.normal(0, 6, img.shape), 0, 255).round().astype(np.uint8)

    flow = FlowEstimator()
    a, b = noisy(clean), noisy(clean)
    still = flow(gray_for_flow(b), gray_for_flow(a), 128, 160)
    assert np.count_nonzero(still) / still.size < 0.02
    moved = noisy(np.roll(clean, 4, axis=1))                                   # the scene moves right by 4 px
    f = flow(gray_for_flow(moved), gray_for_flow(a), 128, 160)
    inner = f[16:-16, 24:-24, 0]
    assert np.median(inner) == pytest.approx(-4.0, abs=0.5)


@pytest.mark.parametrize("noise_model", ["linear", "encoded"])
def test_the_export_form_is_the_same_function_without_pixel_unshuffles(noise_model):
    # export traces FoldedTemporalStudent: the unshuffles folded into strided convs (an engine ran the
    # Reshape/Transpose form slower than all its convolutions); it must compute what the model computes
    m, _ = _tiny(noise_model)
    for p in m.gate.parameters():                      # a gate that does something
        torch.nn.init.normal_(p, std=0.1)
    f = m.export_form()
    g = torch.Generator().manual_seed(1)
    x = torch.rand(2, 3, 32, 48, generator=g)
    state = torch.cat([(x + 0.05 * torch.randn(x.shape, generator=g)).clamp(0, 1),
                       torch.randint(0, 9, (2, 1, 32, 48), generator=g).float()], 1)
    with torch.no_grad():
        for got, want in zip(f(x, state), m(x, state)):
            assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()
    traced = torch.jit.trace(f, (x, state)).inlined_graph
    assert "pixel_unshuffle" not in str(traced)
