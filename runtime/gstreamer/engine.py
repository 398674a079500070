"""The per-frame work of the GStreamer element, without GStreamer: a backend and a frame format.

``FrameEngine`` opens the artifact through the runtime's backends (``open_backend``: the same
engine choice, threads and tile limit as ``hushframe stream``), then ``configure`` fixes the
format and size from the negotiated caps and ``process`` denoises one frame in place, given
numpy views of its planes:

* RGB / BGR: ``frames.denoise_image`` (reflect padding to the engine's multiple, tiling when
  the frame exceeds the engine or the ``tile`` limit): the stream's own path, so the output
  equals ``hushframe stream``'s bit for bit.
* NV12 / I420 on OpenVINO: the planes go into one compiled graph that converts, pads,
  denoises and converts back (ov_graph.py); no per-frame colour conversion in numpy.
* NV12 / I420 elsewhere (ONNX Runtime, torch, tiled frames, or ``convert="numpy"``): yuv.py
  converts in numpy around the same padding/tiling path.
* A temporal model (runtime/temporal.py) keeps one state for the element's stream: RGB/BGR through
  the session as ``hushframe stream`` runs it, NV12/I420 through yuv.py's numpy path. ``configure``
  (a caps change) and ``reset`` (a flush, a new segment) drop it; ``process`` takes the buffer's
  index in the stream and its DISCONT flag, so a gap (dropped frames) or a jump back drops it too.
  With ``lookahead=L`` the element calls ``push`` (a frame in, the outputs now final out, each with the
  tag it came in with), ``write`` (an output into a buffer's planes) and, at the end, ``flush``.
"""

from __future__ import annotations

import time

import numpy as np

from ..frames import denoise_image, from_output, pad_chw, padded_size, to_batch
from ..options import RunOptions
from ..tiling import infer_tiled, needs_tiling
from .yuv import RGB_FORMATS, YUV_FORMATS, ColorSpace, chw_to_yuv420, yuv420_to_chw

CONVERT_MODES = ("auto", "numpy")


class FrameEngine:
    def __init__(self, model, options: RunOptions | None = None, convert: str = "auto", lookahead: int = 0, **run):
        """``options``: how the model runs (the element's backend/device/threads/tile/overlap/precision
        properties); ``threads=1`` ... are shorthands for its fields."""
        from ..stream import _max_overlap

        options = RunOptions.of(options, **run)
        if convert not in CONVERT_MODES:
            raise ValueError(f"convert must be one of {', '.join(CONVERT_MODES)}, not {convert!r}")
        self.options = options
        self.backend = options.open(model)
        self.overlap = min(options.overlap, _max_overlap(self.backend, options.tile))   # as stream_video does
        self.convert = convert
        self.fmt = None
        self.path = None          # "rgb" | "engine" | "numpy": how the current format is processed
        self.frames = 0
        self.infer_s = 0.0
        self._req = None
        from ..temporal import open_session

        try:
            self.session = open_session(self.backend, threads=options.threads, lookahead=lookahead)
        except ValueError:
            self.backend.close()
            raise
        self.lookahead = lookahead

    def describe(self) -> str:
        return f"{self.backend.info.describe()}; {self.fmt} via {self.path}" if self.fmt else self.backend.info.describe()

    def configure(self, fmt: str, height: int, width: int, colorspace: ColorSpace | None = None) -> str:
        """Fix the frame format and size (from the caps); returns the path chosen."""
        if fmt not in RGB_FORMATS + YUV_FORMATS:
            raise ValueError(f"unsupported format {fmt}")
        info = self.backend.info
        self.fmt, self.h, self.w = fmt, int(height), int(width)
        self.cs = colorspace or ColorSpace()
        self.padded = padded_size(self.h, self.w, info.size_multiple, info.min_hw)
        self._req = None
        self.reset()
        if fmt in RGB_FORMATS:
            self.path = "rgb"
        elif (self.convert == "auto" and self.session is None and hasattr(self.backend, "compile_variant")
              and not needs_tiling(info, *self.padded)):
            from .ov_graph import wrap_yuv420

            compiled = self.backend.compile_variant(
                lambda m: wrap_yuv420(m, fmt, self.h, self.w, self.padded, self.cs, info.input_name, info.output_name))
            self._req = compiled.create_infer_request()
            self._outs = [compiled.output(n) for n in (("y_out", "uv_out") if fmt == "NV12" else ("y_out", "u_out", "v_out"))]
            self.path = "engine"
        else:
            self.path = "numpy"
        return self.path

    def reset(self) -> None:
        """A temporal model's next frame starts a new stream (flush, seek, new segment)."""
        if self.session is not None:
            self.session.reset()

    @property
    def resets(self) -> dict:
        return dict(self.session.resets) if self.session is not None else {}

    def process(self, planes: list[np.ndarray], index: int | None = None, discontinuity: bool = False) -> None:
        """Denoise one frame in place. planes: RGB/BGR [h x w x 3]; NV12 [Y h x w, UV ch x cw x 2];
        I420 [Y, U, V] (uint8 views, any row stride). ``index``/``discontinuity``: where the frame sits in
        the stream, for a temporal model's state (runtime/temporal.py)."""
        t = time.perf_counter()
        if self.session is not None:
            if self.lookahead:
                raise ValueError(f"lookahead {self.lookahead}: outputs leave late; use push() and write()")
            x, frame = self._frame(planes)
            self.write(planes, self.session.step(x, frame, index=index, discontinuity=discontinuity)[0])
        elif self.path == "rgb":
            img = planes[0] if self.fmt == "RGB" else planes[0][..., ::-1]
            img[...] = denoise_image(self.backend, np.ascontiguousarray(img), overlap=self.overlap)
        elif self.path == "engine":
            feeds = [np.ascontiguousarray(p)[None] for p in planes]
            res = self._req.infer(feeds, share_inputs=True, share_outputs=True)   # copied into the planes below
            for p, o in zip(planes, self._outs):
                p[...] = res[o][0]
        else:
            y, u, v = (planes[0], planes[1][..., 0], planes[1][..., 1]) if self.fmt == "NV12" else planes
            self.write(planes, self._infer_chw(yuv420_to_chw(y, u, v, self.cs)))
        self.infer_s += time.perf_counter() - t
        self.frames += 1

    # ---- a temporal model with a lookahead: outputs leave late, each with the tag of its frame
    def _frame(self, planes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(padded 1 x 3 x H x W input, uint8 h x w x 3 RGB frame for the flow) from a frame's planes."""
        if self.path == "rgb":
            img = planes[0] if self.fmt == "RGB" else planes[0][..., ::-1]
            frame = np.ascontiguousarray(img)
            return to_batch([frame], self.backend.info.size_multiple, self.backend.info.min_hw), frame
        y, u, v = (planes[0], planes[1][..., 0], planes[1][..., 1]) if self.fmt == "NV12" else planes
        x = yuv420_to_chw(y, u, v, self.cs)
        return pad_chw(x, *self.padded)[None], from_output(x, self.h, self.w)

    def push(self, planes: list[np.ndarray], tag, index: int | None = None, discontinuity: bool = False) -> list:
        """One frame into a lookahead session; returns ``[(tag, padded 3 x H x W output), ...]`` now final."""
        t = time.perf_counter()
        x, frame = self._frame(planes)
        ready = self.session.push(x, frame, tag=tag, index=index, discontinuity=discontinuity)
        self.infer_s += time.perf_counter() - t
        self.frames += 1
        return [(tg, y[0]) for tg, y in ready]

    def flush(self) -> list:
        """The outputs still pending (end of stream, new segment)."""
        return [(tg, y[0]) for tg, y in self.session.flush()] if self.session is not None else []

    def write(self, planes: list[np.ndarray], out: np.ndarray) -> None:
        """A padded float 3 x H x W output into a frame's planes, in the frame's format."""
        if self.path == "rgb":
            img = planes[0] if self.fmt == "RGB" else planes[0][..., ::-1]
            img[...] = from_output(out, self.h, self.w)
            return
        y, u, v = (planes[0], planes[1][..., 0], planes[1][..., 1]) if self.fmt == "NV12" else planes
        yo, uo, vo = chw_to_yuv420(out[:, :self.h, :self.w], self.cs)
        y[...] = yo
        u[...] = uo
        v[...] = vo

    def _infer_chw(self, x: np.ndarray) -> np.ndarray:
        """float32 3xhxw -> float32 3xHpxWp, padded and tiled exactly as frames.denoise_image does."""
        x = pad_chw(x, *self.padded)
        if needs_tiling(self.backend.info, *self.padded):
            return infer_tiled(self.backend, x, overlap=self.overlap)
        return self.backend.infer(x[None])[0]

    def close(self) -> None:
        self._req = None
        if self.session is not None:
            self.session.close()
        self.backend.close()
