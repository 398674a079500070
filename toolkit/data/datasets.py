"""Training data: noisy images in memory, random crops with the 8 flips/rotations.

Sources accepted by ``load_noisy_images`` (mixed freely):
* folders of PNG/JPEG/TIFF (8 or 16 bit; see ``images.py`` for the gray/RGBA rule),
  searched recursively, which covers the SIDD-Medium sRGB layout (only ``NOISY`` files
  are taken when ``GT`` files sit beside them: self-supervised training never sees GT);
* single image files; video files (every n-th frame);
* SIDD validation ``.mat`` noisy blocks.

Crops are a pure function of (seed, sample index): a resumed or distributed run sees
exactly the samples an uninterrupted single-process run would have seen.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from hushframe.core.errors import HushframeError

from hushframe.core.images import ImageError, is_image, read_image, to_uint8
from .video import is_video, read_video_frames

log = logging.getLogger("hushframe.data")


class DataError(HushframeError, ValueError):
    pass


def _expand(source: Path) -> list[Path]:
    if source.is_dir():
        files = [p for p in sorted(source.rglob("*")) if p.is_file() and (is_image(p) or is_video(p) or p.suffix.lower() == ".mat")]
        names = {p.name for p in files}
        # SIDD layout / paired folders: keep only the noisy half.
        files = [p for p in files if not (("GT" in p.name and p.name.replace("GT", "NOISY") in names)
                                          or p.stem.lower().endswith("_mean"))]
        return files
    return [source]


def load_noisy_images(sources, crop: int = 0, video_every: int = 10, max_side: int | None = None,
                      warn=None) -> list[np.ndarray]:
    """uint8 HxWx3 arrays; unreadable files are skipped with a warning naming them."""
    warn = warn or (lambda msg: log.warning(msg))
    out: list[np.ndarray] = []
    for src in sources:
        src = Path(src)
        if not src.exists():
            raise DataError(f"{src}: no such file or folder")
        for f in _expand(src):
            try:
                if is_video(f):
                    imgs = read_video_frames(f, every=video_every)
                elif f.suffix.lower() == ".mat":
                    from hushframe.core.pairs import load_mat

                    a = load_mat(f)
                    imgs = [to_uint8(b / 255.0) if b.dtype != np.uint8 else b for b in a.reshape(-1, *a.shape[2:])]
                elif is_image(f):
                    imgs = [to_uint8(read_image(f))]
                else:
                    warn(f"{f}: skipped (not an image or video)")
                    continue
            except (ImageError, ValueError, OSError) as e:
                warn(f"skipped: {e}")
                continue
            for im in imgs:
                if max_side and max(im.shape[:2]) > max_side:
                    s = max(im.shape[:2]) // max_side + 1
                    im = im[::s, ::s]  # cheap decimation; prefer resizing the source yourself
                if crop and min(im.shape[:2]) < crop:
                    warn(f"{f}: {im.shape[1]}x{im.shape[0]} is smaller than the {crop} crop; reflect-padded")
                    im = pad_reflect(im, crop)
                out.append(np.ascontiguousarray(im))
    if not out:
        raise DataError(f"no readable noisy images in {', '.join(map(str, sources))}")
    return out


def pad_reflect(im: np.ndarray, size: int) -> np.ndarray:
    ph, pw = max(0, size - im.shape[0]), max(0, size - im.shape[1])
    mode = "reflect" if ph < im.shape[0] and pw < im.shape[1] else "symmetric"
    while ph or pw:
        im = np.pad(im, ((0, min(ph, im.shape[0] - 1 or 1)), (0, min(pw, im.shape[1] - 1 or 1)), (0, 0)), mode=mode)
        ph, pw = max(0, size - im.shape[0]), max(0, size - im.shape[1])
    return im


def augment8(a: np.ndarray, code: int) -> np.ndarray:
    """One of the 8 dihedral transforms (4 rotations x optional flip) of an HxWxC array."""
    if code & 4:
        a = a[:, ::-1]
    return np.rot90(a, code & 3, axes=(0, 1))


def crop_params(shapes: list[tuple[int, int]], crop: int, rng: np.random.Generator, weights=None) -> tuple[int, int, int, int]:
    """(image index, top, left, dihedral code) of one random crop: the whole randomness of a sample.

    Kept apart from the pixels so that the host loader and the on-GPU sampler
    (``device_crops.py``) cut exactly the same crops from the same (seed, index).
    """
    i = int(rng.choice(len(shapes), p=weights)) if weights is not None else int(rng.integers(len(shapes)))
    h, w = shapes[i]
    y = int(rng.integers(0, h - crop + 1))
    x = int(rng.integers(0, w - crop + 1))
    return i, y, x, int(rng.integers(8))


def random_crop(images: list[np.ndarray], crop: int, rng: np.random.Generator, weights=None) -> np.ndarray:
    i, y, x, code = crop_params([im.shape[:2] for im in images], crop, rng, weights)
    return augment8(images[i][y:y + crop, x:x + crop], code)


class CropDataset:
    """Map-style: sample index -> float32 CHW crop in [0,1], deterministic in (seed, index)."""

    def __init__(self, images: list[np.ndarray], crop: int, seed: int = 0):
        self.images = images
        self.crop = crop
        self.seed = seed
        # Sample images in proportion to their area, so big photos are not under-used.
        self.shapes = [im.shape[:2] for im in images]
        areas = np.array([h * w for h, w in self.shapes], dtype=np.float64)
        self.weights = areas / areas.sum()

    def __len__(self):
        return 1 << 62

    def params(self, index: int) -> tuple[int, int, int, int]:
        """Where sample ``index`` comes from: a pure function of (seed, index)."""
        return crop_params(self.shapes, self.crop, np.random.default_rng([self.seed, int(index)]), self.weights)

    def __getitem__(self, index: int):
        import torch

        i, y, x, code = self.params(index)
        c = augment8(self.images[i][y:y + self.crop, x:x + self.crop], code)
        return torch.from_numpy(np.ascontiguousarray(c.transpose(2, 0, 1))).float().div_(255.0)


class IndexSampler:
    """Yields sample indices for steps ``start_step, start_step+1, ...`` of one rank."""

    def __init__(self, start_step: int, total_steps: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.total, self.batch, self.rank, self.world = start_step, total_steps, batch, rank, world

    def __iter__(self):
        for step in range(self.start, self.total):
            base = (step * self.world + self.rank) * self.batch
            yield from range(base, base + self.batch)

    def __len__(self):
        return max(0, self.total - self.start) * self.batch


def make_loader(dataset: CropDataset, start_step: int, total_steps: int, batch: int, rank=0, world=1, workers=0):
    import torch

    sampler = IndexSampler(start_step, total_steps, batch, rank, world)
    return torch.utils.data.DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers,
                                       pin_memory=torch.cuda.is_available(), drop_last=True,
                                       persistent_workers=workers > 0)


def simulated_set(clean_images: list[np.ndarray], n_per_image: int, seed: int, level: str = "medium",
                  crop: int | None = None, olpf: float = 0.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(noisy, clean) uint8 lists from clean sRGB images through the camera simulator (random cameras
    of ``level``; ``olpf``: their optical low-pass filter, see ``simulator.CameraParams``)."""
    from .simulator import simulate_pair

    rng = np.random.default_rng(seed)
    noisy, clean = [], []
    for im in clean_images:
        f = im.astype(np.float32) / 255.0 if im.dtype == np.uint8 else im
        for _ in range(n_per_image):
            if crop and min(f.shape[:2]) > crop:
                y = int(rng.integers(0, f.shape[0] - crop + 1)); x = int(rng.integers(0, f.shape[1] - crop + 1))
                part = f[y:y + crop, x:x + crop]
            else:
                part = f
            n, g = simulate_pair(part, rng, level, olpf=olpf)
            noisy.append(to_uint8(n)); clean.append(to_uint8(g))
    return noisy, clean


def public_domain_images() -> list[tuple[str, np.ndarray]]:
    """Public-domain / CC0 colour photos that ship inside scikit-image (no network).

    astronaut, rocket, hubble_deep_field (NASA, public domain); coffee, chelsea (CC0).
    """
    from skimage import data

    names = ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field"]
    return [(n, np.ascontiguousarray(getattr(data, n)()[..., :3])) for n in names]
