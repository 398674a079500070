"""Paired noisy / ground-truth sets, found by naming convention (numpy; scipy only for SIDD .mat).

Recognised, in this order:
* ``NAME_real.*`` / ``NAME_mean.*`` (PolyU, Nam) in one folder;
* ``NOISY`` / ``GT`` in the file name, e.g. SIDD-Medium ``Data/<scene>/NOISY_SRGB_010.PNG``
  beside ``GT_SRGB_010.PNG`` (searched recursively);
* two folders: ``--clean DIR`` with the same file names as the noisy folder;
* SIDD validation blocks: ``ValidationNoisyBlocksSrgb.mat`` + ``ValidationGtBlocksSrgb.mat``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hushframe.core.errors import HushframeError

from .images import ImageError, is_image, list_images, read_uint8


@dataclass
class Pair:
    name: str
    noisy: object  # Path, or a (mat path, index) for SIDD blocks
    clean: object

    def load(self) -> tuple[np.ndarray, np.ndarray]:
        """uint8 HxWx3 noisy and clean."""
        if isinstance(self.noisy, tuple):
            return _mat_block(*self.noisy), _mat_block(*self.clean)
        n, c = read_uint8(self.noisy), read_uint8(self.clean)
        if n.shape != c.shape:
            raise ImageError(f"{self.noisy}: size {n.shape[:2]} differs from its ground truth {self.clean} {c.shape[:2]}")
        return n, c


class PairError(HushframeError, ValueError):
    pass


def find_pairs(path: str | Path, clean: str | Path | None = None) -> list[Pair]:
    p = Path(path)
    if not p.exists():
        raise PairError(f"{p}: no such file or folder")
    if p.is_file() and p.suffix.lower() == ".mat":
        return _sidd_mat_pairs(p, Path(clean) if clean else None)
    if not p.is_dir():
        raise PairError(f"{p}: expected a folder of image pairs or a SIDD .mat file")
    if clean is not None:
        return _two_folder_pairs(p, Path(clean))
    mats = sorted(p.glob("*Noisy*Blocks*.mat"))
    if mats:
        return _sidd_mat_pairs(mats[0], None)
    pairs = _suffix_pairs(p) or _noisy_gt_pairs(p)
    if not pairs:
        raise PairError(f"{p}: no image pairs found (expected NAME_real/NAME_mean, NOISY*/GT* names, "
                        f"a SIDD validation .mat, or --clean DIR)")
    return pairs


def _suffix_pairs(folder: Path) -> list[Pair]:
    files = list_images(folder)
    by_key = {}
    for f in files:
        m = re.match(r"(.+)_(real|mean)$", f.stem, re.IGNORECASE)
        if m:
            by_key.setdefault(m.group(1), {})[m.group(2).lower()] = f
    return [Pair(k, v["real"], v["mean"]) for k, v in sorted(by_key.items()) if "real" in v and "mean" in v]


def _noisy_gt_pairs(folder: Path) -> list[Pair]:
    pairs = []
    for f in list_images(folder, recursive=True):
        if "NOISY" in f.name:
            gt = f.with_name(f.name.replace("NOISY", "GT"))
            if gt.exists():
                pairs.append(Pair(str(f.relative_to(folder).with_suffix("")), f, gt))
    return pairs


def _two_folder_pairs(noisy: Path, clean: Path) -> list[Pair]:
    if not clean.is_dir():
        raise PairError(f"{clean}: clean folder does not exist")
    out = []
    for f in list_images(noisy):
        c = clean / f.name
        if not c.exists():
            cands = [x for x in clean.iterdir() if x.stem == f.stem and is_image(x)]
            if not cands:
                continue
            c = cands[0]
        out.append(Pair(f.stem, f, c))
    if not out:
        raise PairError(f"{noisy}: no file has a namesake in {clean}")
    return out


def _sidd_mat_pairs(noisy_mat: Path, gt_mat: Path | None) -> list[Pair]:
    gt_mat = gt_mat or noisy_mat.with_name(noisy_mat.name.replace("Noisy", "Gt"))
    if not gt_mat.exists():
        raise PairError(f"{noisy_mat}: ground-truth blocks {gt_mat.name} not found beside it")
    arr = load_mat(noisy_mat)
    n_img, n_blk = arr.shape[:2]
    return [Pair(f"{i:02d}_{j:02d}", (noisy_mat, (i, j)), (gt_mat, (i, j))) for i in range(n_img) for j in range(n_blk)]


_MAT_CACHE: dict = {}


def load_mat(path: Path) -> np.ndarray:
    """The 5-D block array (images x blocks x H x W x 3) of a SIDD validation .mat, cached."""
    key = str(path)
    if key not in _MAT_CACHE:
        try:
            from scipy.io import loadmat
        except ImportError:
            raise PairError(f"{path}: reading SIDD .mat blocks needs scipy (pip install scipy)") from None

        try:
            d = loadmat(str(path))
        except Exception as e:
            raise PairError(f"{path}: cannot read .mat ({e.__class__.__name__})") from None
        arrays = [v for k, v in d.items() if not k.startswith("__") and isinstance(v, np.ndarray) and v.ndim == 5]
        if not arrays:
            raise PairError(f"{path}: no 5-D block array (images x blocks x H x W x 3) inside")
        _MAT_CACHE[key] = arrays[0]
    return _MAT_CACHE[key]


def _mat_block(path: Path, idx: tuple[int, int]) -> np.ndarray:
    a = load_mat(path)[idx[0], idx[1]]
    return a if a.dtype == np.uint8 else np.clip(np.rint(a * (255 if a.max() <= 1.0 else 1)), 0, 255).astype(np.uint8)
