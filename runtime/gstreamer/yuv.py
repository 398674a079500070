"""Y'CbCr <-> RGB for 4:2:0 frames (NV12, I420), in numpy and as matrices an engine graph can use.

One affine map each way, built from the caps' colorimetry (Kr/Kb of the matrix, limited or
full range), so BT.601, BT.709 and BT.2020 frames are all read as what they are:

    rgb[0,1]   = YUV2RGB @ [Y, U, V] (uint8 code values) + yuv2rgb_bias     (then clamped to [0,1])
    yuv codes  = RGB2YUV @ rgb[0,1] + rgb2yuv_bias                         (then rounded, clamped)

Chroma is upsampled by repetition (each 2x2 block shares one sample) and downsampled by
averaging each 2x2 block; odd widths/heights are handled by edge replication.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

YUV_FORMATS = ("NV12", "I420")
RGB_FORMATS = ("RGB", "BGR")
FORMATS = RGB_FORMATS + YUV_FORMATS

# Kr, Kb of the matrices GStreamer names (gst_video_color_matrix_get_Kr_Kb)
MATRICES = {"bt601": (0.299, 0.114), "bt709": (0.2126, 0.0722), "bt2020": (0.2627, 0.0593),
            "smpte240m": (0.212, 0.087), "fcc": (0.30, 0.11)}


@dataclass(frozen=True)
class ColorSpace:
    kr: float = 0.299
    kb: float = 0.114
    full_range: bool = False

    @classmethod
    def named(cls, matrix: str = "bt601", full_range: bool = False) -> "ColorSpace":
        kr, kb = MATRICES[matrix]
        return cls(kr, kb, full_range)

    def _scales(self):
        # code = offset + scale * value; Y' in [0,1], Cb/Cr in [-0.5, 0.5]
        if self.full_range:
            return (0.0, 255.0), (128.0, 255.0)
        return (16.0, 219.0), (128.0, 224.0)

    def rgb_to_yuv(self) -> tuple[np.ndarray, np.ndarray]:
        """(3x3 matrix, 3 bias): RGB in [0,1] -> Y, U, V code values (floats, 0..255)."""
        kr, kb = self.kr, self.kb
        kg = 1.0 - kr - kb
        m = np.array([[kr, kg, kb],
                      [-kr / (2 * (1 - kb)), -kg / (2 * (1 - kb)), 0.5],
                      [0.5, -kg / (2 * (1 - kr)), -kb / (2 * (1 - kr))]], dtype=np.float64)
        (yo, ys), (co, cs) = self._scales()
        scale = np.array([ys, cs, cs])[:, None]
        return (m * scale).astype(np.float32), np.array([yo, co, co], dtype=np.float32)

    def yuv_to_rgb(self) -> tuple[np.ndarray, np.ndarray]:
        """(3x3 matrix, 3 bias): Y, U, V code values -> RGB in [0,1] (before clamping)."""
        m, b = self.rgb_to_yuv()
        inv = np.linalg.inv(m.astype(np.float64))
        return inv.astype(np.float32), (-inv @ b.astype(np.float64)).astype(np.float32)


def chroma_size(h: int, w: int) -> tuple[int, int]:
    return (h + 1) // 2, (w + 1) // 2


def upsample_chroma(c: np.ndarray, h: int, w: int) -> np.ndarray:
    """...x ch x cw -> ... x h x w by repeating each sample over its 2x2 block."""
    return np.repeat(np.repeat(c, 2, axis=-2), 2, axis=-1)[..., :h, :w]


def downsample_chroma(c: np.ndarray) -> np.ndarray:
    """... x h x w float -> ... x ceil(h/2) x ceil(w/2): mean of each 2x2 block (edge-replicated when odd)."""
    h, w = c.shape[-2:]
    if h % 2 or w % 2:
        c = np.pad(c, [(0, 0)] * (c.ndim - 2) + [(0, h % 2), (0, w % 2)], mode="edge")
    return 0.25 * (c[..., 0::2, 0::2] + c[..., 1::2, 0::2] + c[..., 0::2, 1::2] + c[..., 1::2, 1::2])


def yuv420_to_chw(y: np.ndarray, u: np.ndarray, v: np.ndarray, cs: ColorSpace) -> np.ndarray:
    """uint8 planes (Y hxw, U and V chxcw) -> float32 3xhxw RGB in [0,1]."""
    h, w = y.shape
    yuv = np.empty((3, h, w), dtype=np.float32)
    yuv[0] = y
    yuv[1] = upsample_chroma(u, h, w)
    yuv[2] = upsample_chroma(v, h, w)
    m, b = cs.yuv_to_rgb()
    rgb = np.tensordot(m, yuv, axes=1)
    rgb += b[:, None, None]
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def chw_to_yuv420(rgb: np.ndarray, cs: ColorSpace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """float32 3xhxw RGB (any range; clamped to [0,1]) -> uint8 planes Y, U, V."""
    m, b = cs.rgb_to_yuv()
    yuv = np.tensordot(m, np.clip(rgb, 0.0, 1.0), axes=1)
    yuv += b[:, None, None]
    c = downsample_chroma(yuv[1:])
    return _u8(yuv[0]), _u8(c[0]), _u8(c[1])


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)
