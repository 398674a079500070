"""Classical frame denoisers as pseudo-label teachers: FFmpeg filters (PyAV) and BM3D.

They are slow (FFmpeg ``nlmeans=s=3`` takes seconds per 2 MP frame), so they run once per
whole training image and their outputs are cached as lossless PNGs (``labels.py``),
never per training crop. Whole frames also keep the filter's borders where they belong.
Deployed students (``student:model.onnx``) are frame teachers too: runtime/teacher.py.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .kinds import TeacherKind, register_teacher_kind
from .spec import TeacherSpecError

# Planar RGB: the filter sees the image itself, no colour conversion and no chroma
# subsampling (the protocol of the anchors and of benchmarks/frontier.py).
PIX_FMT = "gbrp"


class FrameTeacher:
    """uint8 HxWx3 RGB -> uint8 HxWx3 RGB for a whole image."""

    spec: str

    def check(self) -> None:
        """Fail early (one line) when the teacher cannot run here; runs it on a tiny frame."""
        self.label_image(np.full((24, 40, 3), 128, np.uint8))

    def label_image(self, img: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class FFmpegTeacher(FrameTeacher):
    def __init__(self, filtergraph: str):
        self.filtergraph = filtergraph
        self.spec = f"ffmpeg:{filtergraph}"

    def check(self) -> None:
        try:
            import av  # noqa: F401
        except ImportError:
            raise TeacherSpecError(f"--teacher {self.spec!r}: needs PyAV (pip install av); on a machine without it, "
                                   f"write the labels elsewhere with `hushframe label` and pass --teacher labels:DIR") from None
        super().check()

    def label_image(self, img: np.ndarray) -> np.ndarray:
        import av

        h, w = img.shape[:2]
        g = av.filter.Graph()
        src = g.add_buffer(width=w, height=h, format=PIX_FMT, time_base="1/25")
        sink = g.add("buffersink")
        try:
            # One filter ("nlmeans=s=3") or a chain ("hqdn3d=4,unsharp"): parse as a graph.
            self._link_chain(g, src, sink)
            g.configure()
        except (av.error.FFmpegError, ValueError) as e:
            raise TeacherSpecError(f"--teacher {self.spec!r}: FFmpeg refused the filter ({_first_line(e)})") from None
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24").reformat(format=PIX_FMT)
        frame.pts = 0
        g.push(frame)
        g.push(None)
        try:
            out = g.pull()
        except (av.error.EOFError, av.error.BlockingIOError):
            raise TeacherSpecError(f"--teacher {self.spec!r}: the filter returned no frame for a single image "
                                   f"(temporal filters need a video)") from None
        a = out.to_ndarray(format="rgb24")
        if a.shape != img.shape:
            raise TeacherSpecError(f"--teacher {self.spec!r}: the filter changed the frame size "
                                   f"{w}x{h} -> {a.shape[1]}x{a.shape[0]}; a pseudo-label must stay aligned")
        return a

    def _link_chain(self, g, src, sink):
        prev = src
        for part in _split_chain(self.filtergraph):
            name, _, args = part.partition("=")
            f = g.add(name.strip(), args or None)
            prev.link_to(f)
            prev = f
        prev.link_to(sink)


def _split_chain(graph: str) -> list[str]:
    """Split a linear filter chain on top-level commas (not inside quotes or brackets)."""
    parts, cur, depth, quote = [], [], 0, None
    for ch in graph:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(cur)); cur = []
            continue
        cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def _first_line(e: Exception) -> str:
    return str(e).splitlines()[0][:160] if str(e) else e.__class__.__name__


class BM3DTeacher(FrameTeacher):
    """BM3D (``bm3d`` package, Makinen et al.) on RGB; sigma in 0-255 units, else estimated per image."""

    def __init__(self, options: str = ""):
        self.sigma = float(options.split("=", 1)[1]) if options else None
        self.spec = "bm3d" + (f":{options}" if options else "")

    def check(self) -> None:
        try:
            import bm3d  # noqa: F401
        except ImportError:
            raise TeacherSpecError(f"--teacher {self.spec!r}: needs the optional bm3d package (pip install bm3d)") from None
        # No trial run: BM3D on a flat patch is cheap but pointless; import is the only failure mode.

    def label_image(self, img: np.ndarray) -> np.ndarray:
        import bm3d

        from hushframe.core.images import to_uint8

        x = img.astype(np.float32) / 255.0
        if self.sigma is not None:
            sigma = self.sigma / 255.0
        else:
            from skimage.restoration import estimate_sigma

            sigma = float(np.mean(estimate_sigma(x, channel_axis=-1)))
        return to_uint8(bm3d.bm3d_rgb(x, max(sigma, 1e-4)))


# ---------------------------------------------------------------- the kinds
def _filter_name_ok(arg: str, whole: str) -> str:
    from .spec import usage_error

    name = re.split(r"[=:,;\[]", arg, maxsplit=1)[0]
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise usage_error(whole, f"{arg!r} does not start with a filter name")
    return arg


def _sigma_ok(arg: str, whole: str) -> str:
    from .spec import usage_error

    k, eq, v = arg.partition("=")
    try:
        ok = k.strip() == "sigma" and eq and float(v) > 0 and math.isfinite(float(v))
    except ValueError:
        ok = False
    if not ok:
        raise usage_error(whole, f"bm3d takes only sigma=S with S > 0 (0-255 units), got {arg!r}")
    return arg


register_teacher_kind(TeacherKind(
    "ffmpeg", usage="ffmpeg:FILTERGRAPH", summary="libavfilter through PyAV on gbrp frames, e.g. ffmpeg:nlmeans=s=3",
    arg="filtergraph", on_frames=True, parse=_filter_name_ok, order=30,
    build=lambda term, **_: FFmpegTeacher(term.arg)))
register_teacher_kind(TeacherKind(
    "bm3d", usage="bm3d[:sigma=S]", summary="BM3D (optional bm3d package), sigma in 0-255 units or estimated",
    arg="", on_frames=True, parse=_sigma_ok, order=40,
    build=lambda term, **_: BM3DTeacher(term.arg)))
