"""The frame conversions every runtime path shares (runtime/frames.py)."""

from __future__ import annotations

import numpy as np
import pytest


def test_from_output_opencv_and_numpy_paths_give_the_same_bytes():
    """OpenCV converts a model's output when the video extras are installed, numpy otherwise: a frame
    must not depend on which one ran (clamping both ways, rounding of exact halves, padding cropped)."""
    pytest.importorskip("cv2")
    from hushframe.runtime.frames import _from_output_numpy, crop_chw, from_output

    rng = np.random.default_rng(0)
    y = (rng.random((3, 72, 100)) * 1.4 - 0.2).astype(np.float32)
    y[0, 0, :100] = (np.arange(100) + 0.5) / 255.0          # (k + 1/2) / 255: rounding's ties
    y[1, 1, :3] = [np.inf, -np.inf, 1.0]
    fast = from_output(y, 70, 97)
    assert fast.shape == (70, 97, 3) and fast.dtype == np.uint8 and fast.flags.c_contiguous
    assert np.array_equal(fast, _from_output_numpy(crop_chw(y, 70, 97)))


@pytest.mark.parametrize("size", [(70, 97), (64, 96), (5, 3)])
def test_to_batch_is_scale_then_pad(size):
    """to_batch pads the uint8 frame and scales once (OpenCV's split when installed, numpy otherwise): the
    batch must be what scaling and then padding the protocol's way gives (reflect; edge when too small)."""
    from hushframe.core.contract import pad_chw, padded_size
    from hushframe.runtime import frames

    rng = np.random.default_rng(1)
    ims = [rng.integers(0, 256, size + (3,), dtype=np.uint8) for _ in range(2)]
    th, tw = padded_size(*size, 8, (16, 16))
    want = np.stack([pad_chw(frames.to_chw(im), th, tw) for im in ims])
    got = frames.to_batch(ims, 8, (16, 16))
    assert got.shape == want.shape and np.array_equal(got, want)
    if frames._opencv() is not None:                 # and the numpy path the base install runs
        frames._opencv.cache_clear()
        real = frames._opencv
        try:
            frames._opencv = lambda: None
            assert np.array_equal(frames.to_batch(ims, 8, (16, 16)), want)
        finally:
            frames._opencv = real
