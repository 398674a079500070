"""Frames and the tensor conversions around a backend (numpy only).

uint8 HxWx3 RGB  --to_batch-->  float32 NCHW in [0,1], reflect-padded at the bottom/right
to the engine's multiple  --backend.infer-->  float32 NCHW  --from_output-->  uint8 HxWx3
(cropped, clamped, x255, rounded: the evaluation protocol; pad/crop rules in core/contract.py).
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from hushframe.core.contract import crop_chw, pad_chw, pad_mode, padded_size  # noqa: F401  (the pad/crop protocol)


@dataclass
class Frame:
    """One decoded picture and where it sits in time."""

    index: int                       # position in the source (after skipped corrupt frames)
    image: np.ndarray                # uint8 HxWx3 RGB
    pts: int | None = None           # presentation timestamp in time_base units
    time_base: Fraction | None = None
    name: str | None = None          # file stem for image sources
    t_in: float = field(default_factory=time.perf_counter)  # when it left the decoder (latency start)

    @property
    def time(self) -> float | None:
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)

    def with_image(self, image: np.ndarray) -> "Frame":
        return Frame(self.index, image, self.pts, self.time_base, self.name, self.t_in)


def to_chw(image: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> float32 3xHxW in [0,1]."""
    x = np.empty((3,) + image.shape[:2], dtype=np.float32)
    np.multiply(np.moveaxis(image, -1, 0), np.float32(1.0 / 255.0), out=x, casting="unsafe")
    return x


def to_batch(images: list[np.ndarray], multiple: int, min_hw: tuple[int, int] = (1, 1)) -> np.ndarray:
    """Same-size uint8 HxWx3 images -> padded float32 NCHW."""
    h, w = images[0].shape[:2]
    th, tw = padded_size(h, w, multiple, min_hw)
    out = np.empty((len(images), 3, th, tw), dtype=np.float32)
    for i, im in enumerate(images):
        if im.shape[:2] != (h, w):
            raise ValueError("to_batch needs images of one size")
        to_padded_chw(im, out[i])
    return out


def to_padded_chw(image: np.ndarray, out: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 -> ``out`` (float32 3 x th x tw): scaled to [0,1], padded at the bottom/right.

    Padded as uint8, then scaled plane by plane straight into ``out``: one float pass instead of
    three (scale, pad, copy), the same values (padding copies pixels, scaling is per pixel). With
    OpenCV its split reads the interleaved pixels once: 1080p 8.3 -> 2.8 ms (numpy alone: 3.8)."""
    h, w = image.shape[:2]
    th, tw = out.shape[-2:]
    if (th, tw) != (h, w):
        image = np.pad(image, ((0, th - h), (0, tw - w), (0, 0)), mode=pad_mode(h, w, th - h, tw - w))
    cv2 = _opencv()
    planes = cv2.split(np.ascontiguousarray(image)) if cv2 is not None else np.moveaxis(image, -1, 0)
    scale = np.float32(1.0 / 255.0)
    for c in range(3):
        np.multiply(planes[c], scale, out=out[c], casting="unsafe")
    return out


def from_output(y: np.ndarray, h: int, w: int) -> np.ndarray:
    """float32 3xHpxWp -> uint8 hxwx3 (crop, clamp to [0,1], x255, round half to even).

    With OpenCV (the video extras) its saturating conversion does the clamp above 1 and the
    rounding in one multithreaded pass: a third of numpy's time at 1080p (13 -> 4 ms), the same
    bytes (tests/test_frames.py); the base install has numpy only."""
    c = crop_chw(y, h, w)
    cv2 = _opencv()
    if cv2 is None:
        return _from_output_numpy(c)
    return cv2.convertScaleAbs(cv2.max(cv2.merge([c[0], c[1], c[2]]), 0.0), alpha=255.0)


@functools.cache
def _opencv():
    """cv2, or None on the base install: looked up once, not per frame (a failed import searches sys.path)."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _from_output_numpy(c: np.ndarray) -> np.ndarray:
    out = np.clip(c, 0.0, 1.0)
    out *= 255.0
    np.rint(out, out=out)
    return np.ascontiguousarray(np.moveaxis(out.astype(np.uint8), 0, -1))


def denoise_image(backend, image: np.ndarray, overlap: int = 32) -> np.ndarray:
    """One uint8 image through an opened backend (padding, and tiling when the engine needs it)."""
    from .tiling import infer_tiled, needs_tiling

    info = backend.info
    h, w = image.shape[:2]
    x = to_batch([image], info.size_multiple, info.min_hw)
    if needs_tiling(info, x.shape[2], x.shape[3]):
        y = infer_tiled(backend, x[0], overlap=overlap)
    else:
        y = backend.infer(x)[0]
    return from_output(y, h, w)
