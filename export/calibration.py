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
# 128 crops, not 32: the per-channel equalization and the ranges must see the rare frames that drive a
# channel far past its usual range (saturated colours). With 32 crops the channels carrying them looked
# quiet, were scaled up, and clipped on such frames; a blanket x1.5 headroom then paid for it on every
# tensor (export/README.md, "Calibration coverage, not headroom").
DEFAULT_CROPS = 128
# Of those, this share is placed on the most colour-saturated regions of the frames rather than at random:
# the frames' rare extremes then reach the statistics whatever the seed (random crops alone caught them
# for one seed and missed them for another: 0.15 vs 0.74 dB on one polyu-dev image).
DEFAULT_EXTREME_SHARE = 0.25
EXTREME_BLOCK = 32  # px: chroma is averaged over blocks this size to find saturated regions, not single pixels
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
    from hushframe.core.images import is_image, list_images, read_image

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


def _saturated_positions(img: np.ndarray, size: int, peaks: int = 4) -> list[tuple[float, int, int]]:
    """(mean chroma, y, x) of up to ``peaks`` crop positions centred on the frame's most saturated blocks,
    at least one crop apart."""
    h, w = img.shape[:2]
    b = EXTREME_BLOCK
    hb, wb = h // b, w // b
    if hb == 0 or wb == 0:
        return []
    c = img[:hb * b, :wb * b]
    r, g, bl = c[..., 0], c[..., 1], c[..., 2]  # per-channel maxima: a max over axis 2 of size 3 is ~10x slower
    chroma = np.maximum(np.maximum(r, g), bl) - np.minimum(np.minimum(r, g), bl)
    blocks = chroma.reshape(hb, b, wb, b).mean(axis=(1, 3))
    out, apart = [], size // b
    for _ in range(peaks):
        i, j = np.unravel_index(int(np.argmax(blocks)), blocks.shape)
        if blocks[i, j] < 0:
            break
        y = int(np.clip(i * b + b // 2 - size // 2, 0, h - size))
        x = int(np.clip(j * b + b // 2 - size // 2, 0, w - size))
        out.append((float(blocks[i, j]), y, x))
        blocks[max(0, i - apart):i + apart + 1, max(0, j - apart):j + apart + 1] = -1
    return out


def calibration_crops(source: str | Path, n: int = DEFAULT_CROPS, size: int | None = DEFAULT_CROP_SIZE, seed: int = 0,
                      multiple: int = 32, extreme_share: float = DEFAULT_EXTREME_SHARE) -> np.ndarray:
    """n crops (N x 3 x size x size float32 in [0,1]) drawn reproducibly from ``source``: random positions,
    then ``extreme_share`` of them on the frames' most colour-saturated regions (deterministic).

    ``size`` None: DEFAULT_CROP_SIZE where a frame holds it, else the largest multiple of ``multiple``
    the biggest frame holds (small frames, e.g. 256x192, are common; issue 27: they were refused
    with a hint to compute the size by hand)."""
    if n < MIN_CROPS:
        raise CalibrationError(f"{n} calibration crops requested; at least {MIN_CROPS} are needed")
    if size is not None and (size <= 0 or size % multiple):
        raise CalibrationError(f"--crop-size {size}: must be a positive multiple of {multiple} (the model's size "
                               f"multiple), e.g. {max(multiple, size // multiple * multiple)}")
    loaders = load_frames(source)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(loaders))
    frames: dict[int, np.ndarray] = {}

    def frame(i):
        if i not in frames:
            frames[i] = loaders[i]()
        return frames[i]

    sides = {int(i): min(frame(i).shape[:2]) for i in order}
    largest = max(sides.values())
    if size is None:
        size = DEFAULT_CROP_SIZE if largest >= DEFAULT_CROP_SIZE else largest // multiple * multiple
        if size == 0:
            raise CalibrationError(f"{source}: calibration frames too small: the largest is {largest} px on its short "
                                   f"side, the model needs crops of at least {multiple}x{multiple}")
    usable = [i for i in order if sides[int(i)] >= size]
    for i in order:
        if sides[int(i)] < size:
            frames.pop(i, None)
    if not usable:
        fit = largest // multiple * multiple
        raise CalibrationError(f"{source}: no calibration frame holds a {size}x{size} crop (the largest is {largest} px "
                               f"on its short side); use --crop-size {fit}" if fit else
                               f"{source}: calibration frames too small: the largest is {largest} px on its short "
                               f"side, the model needs crops of at least {multiple}x{multiple}")
    crops = np.empty((n, 3, size, size), np.float32)
    n_extreme = int(round(n * extreme_share))
    for j in range(n - n_extreme):
        img = frame(usable[j % len(usable)])
        h, w = img.shape[:2]
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        crops[j] = img[y:y + size, x:x + size].transpose(2, 0, 1)
    if n_extreme:
        found = sorted(((v, int(i), y, x) for i in usable for v, y, x in _saturated_positions(frame(i), size)),
                       key=lambda t: (-t[0], t[1], t[2], t[3]))
        for k in range(n_extreme):  # fewer saturated regions than asked: cycle through them
            _, i, y, x = found[k % len(found)]
            crops[n - n_extreme + k] = frame(i)[y:y + size, x:x + size].transpose(2, 0, 1)
    return crops
