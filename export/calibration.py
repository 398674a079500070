"""Calibration crops from the user's noisy frames: a folder of images or a video file.

Crops are drawn reproducibly (numpy Generator with a fixed seed): the same source, count,
size and seed always give the same crops, in the same order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hushframe.core.contract import VIDEO_EXTS

from .errors import CalibrationError

MIN_CROPS = 32
DEFAULT_CROPS = 32
DEFAULT_CROP_SIZE = 256
MAX_VIDEO_FRAMES = 64


def _video_frames(path: Path, max_frames: int = MAX_VIDEO_FRAMES) -> list[np.ndarray]:
    try:
        import av
    except ImportError:
        raise CalibrationError(f"{path}: reading video needs PyAV (pip install av)") from None
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise CalibrationError(f"{path}: no video stream")
            frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    except CalibrationError:
        raise
    except Exception as e:
        raise CalibrationError(f"{path}: cannot decode video ({e.__class__.__name__}: {str(e)[:100]})") from None
    if len(frames) > max_frames:  # evenly spaced frames cover the whole clip
        idx = np.linspace(0, len(frames) - 1, max_frames).round().astype(int)
        frames = [frames[i] for i in idx]
    return [f.astype(np.float32) / 255.0 for f in frames]


def load_frames(source: str | Path) -> list:
    """Callables returning HxWx3 float32 [0,1] frames (images are decoded on demand)."""
    from hushframe.toolkit.data.images import is_image, list_images, read_image

    p = Path(source)
    if not p.exists():
        raise CalibrationError(f"{p}: calibration source does not exist")
    if p.is_dir():
        files = list_images(p, recursive=True)
        if not files:
            raise CalibrationError(f"{p}: calibration folder holds no images")
        return [lambda f=f: read_image(f) for f in files]
    if is_image(p):
        return [lambda: read_image(p)]
    if p.suffix.lower() in VIDEO_EXTS or p.is_file():
        frames = _video_frames(p)
        if not frames:
            raise CalibrationError(f"{p}: video holds no frames")
        return [lambda f=f: f for f in frames]
    raise CalibrationError(f"{p}: expected a folder of images or a video file")


def calibration_crops(source: str | Path, n: int = DEFAULT_CROPS, size: int = DEFAULT_CROP_SIZE, seed: int = 0,
                      multiple: int = 32) -> np.ndarray:
    """n crops (N x 3 x size x size float32 in [0,1]) drawn reproducibly from ``source``."""
    if n < MIN_CROPS:
        raise CalibrationError(f"{n} calibration crops requested; at least {MIN_CROPS} are needed")
    if size <= 0 or size % multiple:
        raise CalibrationError(f"crop size {size} must be a positive multiple of {multiple}")
    loaders = load_frames(source)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(loaders))
    frames: dict[int, np.ndarray] = {}

    def frame(i):
        if i not in frames:
            frames[i] = loaders[i]()
        return frames[i]

    usable = []
    for i in order:
        h, w = frame(i).shape[:2]
        if h >= size and w >= size:
            usable.append(i)
        else:
            frames.pop(i)
    if not usable:
        raise CalibrationError(f"{source}: calibration set too small: no frame is at least {size}x{size} "
                               f"(use --crop-size {multiple} * k smaller, or bigger frames)")
    crops = np.empty((n, 3, size, size), np.float32)
    for j in range(n):
        img = frame(usable[j % len(usable)])
        h, w = img.shape[:2]
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        crops[j] = img[y:y + size, x:x + size].transpose(2, 0, 1)
    return crops
