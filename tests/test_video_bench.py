"""benchmarks/_video_clips.py on tiny synthetic data: the video benchmark's metrics, FFmpeg pipes and tuning.

The real FFmpeg binary runs (no mocks); its tests skip, with the reason, where it is not on PATH.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import _video_clips as V  # noqa: E402

needs_ffmpeg = pytest.mark.skipif(V.ffmpeg_binary() is None, reason="the ffmpeg binary is not on PATH")


def _texture(h=64, w=96, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    a = cv2.GaussianBlur(rng.uniform(0, 255, (h, w, 3)).astype(np.float32), (0, 0), 2.0)
    a = (a - a.min()) / (a.max() - a.min()) * 200 + 25
    return np.rint(a).astype(np.uint8)


def _shift_flows(n, h, w, dx):
    """Backward flows of content moving dx px right per frame: pixel x at t was at x - dx at t-1."""
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx = gx - dx
    valid = (mx >= 0) & (mx <= w - 1)
    return [None] + [(mx, gy, valid)] * (n - 1)


def test_flicker_of_an_error_that_follows_the_motion_is_zero_and_of_independent_errors_is_their_rms():
    h, w, n, dx = 32, 48, 5, 2
    gts = [np.full((h, w, 3), 128, np.uint8)] * n
    flows = _shift_flows(n, h, w, dx)
    e0 = np.random.default_rng(1).integers(-6, 7, (h, w + dx * n, 3))
    # the same error pattern carried along with the content: no flicker at all
    outs = [(128 + e0[:, dx * (n - t):dx * (n - t) + w]).astype(np.uint8) for t in range(n)]
    assert V.flicker(gts, outs, flows) == pytest.approx(0.0, abs=1e-6)
    # an error redrawn every frame, std s: (e_t - e_{t-1}) / sqrt(2) has RMS s
    rng = np.random.default_rng(2)
    outs = [np.clip(128 + rng.normal(0, 4, (h, w, 3)).round(), 0, 255).astype(np.uint8) for _ in range(n)]
    assert V.flicker(gts, outs, flows) == pytest.approx(4.0, rel=0.06)
    # a static clip: no warp, the same figure
    assert V.flicker(gts, outs, V.backward_flows(gts, static=True)) == pytest.approx(4.0, rel=0.06)


def test_flows_on_clean_frames_recover_a_known_shift():
    big = _texture(64, 120)
    frames = [np.ascontiguousarray(big[:, 20 - 3 * t:120 - 3 * t]) for t in range(3)]  # content moves 3 px right
    flows = V.backward_flows(frames)
    mx, _my, valid = flows[1]
    gx = np.arange(frames[0].shape[1], dtype=np.float32)[None, :]
    assert valid.mean() > 0.5
    assert np.median((mx - gx)[valid]) == pytest.approx(-3.0, abs=0.3)
    # the noisy frame's own error, as the metric sees it, scores its RMS; a perfect output scores 0 flicker
    m = V.clip_metrics(frames, frames, flows, ssim_every=1)
    assert m["flicker"] == 0.0 and m["ssim"] == pytest.approx(1.0)


def test_render_is_seeded_per_clip_level_and_frame():
    f = _texture(32, 32)
    g1, n1 = V.render([f, f], "moderate", "clip-a")
    g2, n2 = V.render([f, f], "moderate", "clip-a")
    _, n3 = V.render([f, f], "moderate", "clip-b")
    assert all(np.array_equal(a, b) for a, b in zip(n1, n2))  # reproducible
    assert not np.array_equal(n1[0], n1[1])                    # independent per frame
    assert not np.array_equal(n1[0], n3[0])                    # and per clip
    assert np.array_equal(g1[0], g1[1])                        # a still's ground truth is one render


def test_tune_picks_the_best_of_the_grid():
    scores = {"a": 30.0, "b": 31.5, "c": 31.0}
    best, got = V.tune(list(scores), scores.__getitem__)
    assert best == "b" and got == scores


@needs_ffmpeg
def test_ffmpeg_pipe_round_trip_is_exact_and_keeps_every_frame():
    frames = [_texture(36, 50, seed=s) for s in range(4)]  # an odd-ish size: rawvideo has no alignment
    out = V.ffmpeg_clip(frames, "null")
    assert len(out) == 4 and all(np.array_equal(a, b) for a, b in zip(frames, out))
    out = V.ffmpeg_clip(frames, "tmix=frames=3")  # a temporal filter: still one frame out per frame in
    assert len(out) == 4 and out[0].shape == frames[0].shape
    with pytest.raises(ValueError, match="at least 8 frames"):  # FFmpeg 5.1's atadenoise would hang
        V.ffmpeg_clip(frames, "atadenoise=s=15")
    with pytest.raises(RuntimeError, match="nosuchfilter"):
        V.ffmpeg_clip(frames, "nosuchfilter")


@needs_ffmpeg
def test_tuning_a_real_filter_on_noisy_frames_beats_the_weakest_setting():
    from hushframe.core.metrics import psnr

    clean = _texture(48, 64)
    rng = np.random.default_rng(3)
    noisy = [np.clip(clean + rng.normal(0, 8, clean.shape), 0, 255).astype(np.uint8) for _ in range(3)]
    grid = ["fftdnoiz=sigma=1", "fftdnoiz=sigma=8", "fftdnoiz=sigma=30"]
    best, scores = V.tune(grid, lambda s: np.mean([psnr(clean, o) for o in V.ffmpeg_clip(noisy, s)]))
    assert scores[best] == max(scores.values()) and best != "fftdnoiz=sigma=1"
