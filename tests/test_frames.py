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
