"""Reading images into float RGB in [0, 1] (numpy only: used by the torch-free runtime too).

Rules, stated once:
* 8-bit images are divided by 255, 16-bit ones (PNG gray, TIFF) by 65535.
* Gray images are replicated to three channels; RGBA/LA drop alpha; palette -> RGB.
* A header that declares more than ``MAX_PIXELS`` pixels is refused before decoding
  (decompression bombs); so is anything Pillow/tifffile cannot parse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hushframe.core.contract import IMAGE_EXTS
from hushframe.core.errors import HushframeError

MAX_PIXELS = 200_000_000


class ImageError(HushframeError, ValueError):
    pass


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTS


def list_images(folder: str | Path, recursive: bool = False) -> list[Path]:
    folder = Path(folder)
    it = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in it if p.is_file() and is_image(p) and not p.name.startswith("."))


def _to_rgb(a: np.ndarray, path) -> np.ndarray:
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3:
        raise ImageError(f"{path}: unsupported array shape {a.shape}")
    c = a.shape[2]
    if c == 1:
        a = np.repeat(a, 3, axis=2)
    elif c == 2:  # gray + alpha
        a = np.repeat(a[:, :, :1], 3, axis=2)
    elif c >= 4:  # RGBA (or more): alpha and extra channels are dropped
        a = a[:, :, :3]
    return a


def _scale(a: np.ndarray, path) -> np.ndarray:
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    if a.dtype == np.uint16:
        return a.astype(np.float32) / 65535.0
    if a.dtype == bool:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.floating):
        return np.clip(a.astype(np.float32), 0.0, 1.0)
    if np.issubdtype(a.dtype, np.integer):
        info = np.iinfo(a.dtype)
        return (a.astype(np.float64) / info.max).clip(0, 1).astype(np.float32)
    raise ImageError(f"{path}: unsupported pixel type {a.dtype}")


def read_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """HxWx3 float32 in [0, 1]; ImageError with the file name on any problem."""
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if p.suffix.lower() in (".tif", ".tiff"):
        return _read_tiff(p, max_pixels)
    from PIL import Image

    try:
        with Image.open(p) as im:
            w, h = im.size
            if w * h > max_pixels or w <= 0 or h <= 0:
                raise ImageError(f"{p}: declared size {w}x{h} exceeds the {max_pixels}-pixel limit (refused before decoding)")
            im.load()
            if im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                im = im.convert("RGB")
            elif im.mode == "I":
                a = np.asarray(im).astype(np.int64).clip(0, 65535).astype(np.uint16)
                return _scale(_to_rgb(a, p), p)
            elif im.mode == "F":
                return _scale(_to_rgb(np.asarray(im), p), p)
            a = np.asarray(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError(f"{p}: declared size exceeds Pillow's decompression-bomb limit (refused)") from None
    except Exception as e:
        raise ImageError(f"{p}: cannot decode image ({e.__class__.__name__}: {str(e)[:100]})") from None
    if a.size == 0:
        raise ImageError(f"{p}: empty image")
    return _scale(_to_rgb(a, p), p)


def _read_tiff(p: Path, max_pixels: int) -> np.ndarray:
    try:
        import tifffile
    except ImportError:  # Pillow reads 8-bit TIFF well enough
        from PIL import Image

        try:
            with Image.open(p) as im:
                if im.size[0] * im.size[1] > max_pixels:
                    raise ImageError(f"{p}: declared size {im.size[0]}x{im.size[1]} exceeds the pixel limit (refused)")
                return _scale(_to_rgb(np.asarray(im), p), p)
        except ImageError:
            raise
        except Exception as e:
            raise ImageError(f"{p}: cannot decode TIFF ({e.__class__.__name__})") from None
    try:
        with tifffile.TiffFile(p) as tf:
            page = tf.pages[0]
            shape = page.shape
            if int(np.prod(shape[:2])) > max_pixels:
                raise ImageError(f"{p}: declared size {shape[1]}x{shape[0]} exceeds the {max_pixels}-pixel limit (refused before decoding)")
            a = page.asarray()
    except ImageError:
        raise
    except Exception as e:
        raise ImageError(f"{p}: cannot decode TIFF ({e.__class__.__name__}: {str(e)[:100]})") from None
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = np.moveaxis(a, 0, -1)  # planar -> interleaved
    return _scale(_to_rgb(a, p), p)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """[0,1] float -> uint8 by clamp, *255, round (the evaluation protocol)."""
    return np.clip(np.rint(np.clip(img, 0.0, 1.0) * 255.0), 0, 255).astype(np.uint8)


def read_uint8(path) -> np.ndarray:
    return to_uint8(read_image(path))


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Write uint8 or [0,1] float RGB atomically (format from the extension)."""
    from PIL import Image

    from hushframe.core.atomic import atomic_path

    a = img if img.dtype == np.uint8 else to_uint8(img)
    p = Path(path)
    with atomic_path(p, suffix=p.suffix) as tmp:
        Image.fromarray(a).save(tmp, format=_pil_format(p))


def _pil_format(p: Path) -> str:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".tif": "TIFF", ".tiff": "TIFF", ".bmp": "BMP",
            ".webp": "WEBP"}.get(p.suffix.lower(), "PNG")
