"""``Denoiser``: the Python API of the runtime (``from hushframe import Denoiser``).

    from hushframe import Denoiser

    with Denoiser("student-int8.xml", backend="auto") as d:
        clean = d(frame)                     # uint8 H x W x 3 RGB in, the same out
        for out in d.run(frames):            # a video: any iterable of frames, one stream
            ...

A frame goes through the per-frame function ``hushframe stream`` uses (frames.denoise_image: pad to
the engine's multiple, tile where the engine needs it, crop, clamp, round), with stream's default
tile overlap, so ``d(frame)`` equals what ``hushframe stream`` writes for that frame (tests/test_api.py
compares them on PNG and FFV1 outputs).

Streams and state. A per-frame model denoises each frame on its own. A temporal model
(``d.temporal``; runtime/temporal.py) carries state from one frame to the next, so a ``Denoiser`` is
one stream: ``d(frame)`` continues it, ``d.run(frames)`` starts a new one, ``d.reset()`` starts a new
one by hand (after a seek, a reconnect, another clip). It also resets by itself on a size change and
on a scene cut (``d.resets`` counts why). Temporal models run whole frames (never tiled).
``Denoiser(model, lookahead=L)``: each output also uses the next L frames where the scene is still
(runtime/temporal.py), L frames late; ``d.run(frames)`` still yields one output per frame, in order.

Frames are checked before they reach the engine: anything but a uint8 H x W x 3 array is refused with
one :class:`~.errors.FrameError` naming its shape and dtype (a float image in [0, 1] read as 0-255
would come back near-black; a channels-first array would be read as a 3-pixel-wide image). Torch-free:
this module imports numpy and the runtime only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from .errors import ShapeError

class FrameError(ShapeError, TypeError):
    """A frame the Denoiser does not take (wrong dtype, layout or channel count)."""


def check_frame(frame) -> np.ndarray:
    """The frame as a uint8 H x W x 3 array, or one FrameError saying what it is and what to do."""
    a = frame if isinstance(frame, np.ndarray) else np.asarray(frame)
    what = f"a {a.dtype} array of shape {tuple(a.shape)}"
    if a.dtype == object or a.ndim == 0:
        raise FrameError(f"frame: expected a uint8 H x W x 3 RGB array, got {type(frame).__name__}")
    if a.ndim == 3 and a.shape[-1] != 3 and a.shape[0] in (3, 4) and a.shape[-1] > 4:
        raise FrameError(f"frame: {what} looks channels-first; the Denoiser takes H x W x 3 "
                         f"(frame.transpose(1, 2, 0))")
    if a.ndim == 3 and a.shape[-1] == 4:
        raise FrameError(f"frame: {what} has 4 channels; the Denoiser takes RGB (drop alpha: frame[..., :3])")
    if a.ndim == 2 or (a.ndim == 3 and a.shape[-1] == 1):
        raise FrameError(f"frame: {what} is grey; the Denoiser takes RGB (np.dstack([frame] * 3))")
    if a.ndim != 3 or a.shape[-1] != 3:
        raise FrameError(f"frame: {what}; expected H x W x 3 (uint8 RGB)")
    if a.dtype != np.uint8:
        if a.dtype.kind == "f":
            hint = "a float image in [0, 1]: (frame * 255).round().astype(np.uint8)"
        elif a.dtype == np.uint16:
            hint = "16-bit: (frame >> 8).astype(np.uint8)"
        else:
            hint = "values 0-255: frame.astype(np.uint8)"
        raise FrameError(f"frame: {what}; the Denoiser takes uint8 (0-255), as `hushframe stream` does; for {hint}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise FrameError(f"frame: {what} is empty")
    return a


class Denoiser:
    """A deployed denoiser on one engine: ``d(frame)``, ``d.run(frames)``, ``d.reset()``.

    Args:
        model: an artifact (.onnx, .xml OpenVINO IR, .engine TensorRT, .safetensors PyTorch).
        options: how it runs, a :class:`~.options.RunOptions` (the one ``hushframe stream``, ``parity``,
            ``bench`` and the GStreamer element take); its fields may also be given as keywords, as for
            :func:`~.stream.stream_video`: ``backend`` (``auto``: the artifact's own runtime, or
            onnxruntime / openvino / tensorrt / torch), ``device``, ``threads``, ``tile`` (tile frames
            larger than this: ``"512x512"`` or (height, width), as ``stream --tile``), ``overlap``
            (blended tile overlap in pixels, as ``stream --overlap``), ``precision``.

    Use it as a context manager, or call ``close()``: the engine holds memory (and a GPU) until then.
    """

    def __init__(self, model: str | Path, options=None, *, lookahead: int = 0, **run):
        from .options import RunOptions
        from .stream import _max_overlap

        self.options = RunOptions.of(options, **run)
        self._backend = self.options.open(model)
        # as stream_video clamps it, so that a tiled frame is blended exactly as `hushframe stream` blends it
        self.overlap = min(self.options.overlap, _max_overlap(self._backend, self.options.tile))
        from .temporal import open_session

        try:
            self._session = open_session(self._backend, threads=self.options.threads, lookahead=lookahead)
        except ValueError:
            self._backend.close()
            raise

    # ---- one stream of frames
    def __call__(self, frame) -> np.ndarray:
        """Denoise one uint8 H x W x 3 RGB frame (the next of the current stream); returns the same kind."""
        if self._session is not None and self._session.lookahead:
            raise ValueError(f"lookahead {self._session.lookahead}: outputs come {self._session.lookahead} "
                             f"frame(s) late; use d.run(frames)")
        return self._denoise(check_frame(frame))

    def run(self, frames: Iterable) -> Iterator[np.ndarray]:
        """Denoise an iterable of frames as one new stream (state reset first), lazily, in order."""
        self.reset()
        s = self._session
        if s is None or not s.lookahead:
            for frame in frames:
                yield self(frame)
            return
        for frame in frames:
            for _, y in s.push_image(check_frame(frame)):
                yield y
        for _, y in s.flush_images():
            yield y

    def reset(self) -> None:
        """Start a new stream: the next frame carries nothing from earlier ones (a cut, a seek, another clip)."""
        if self._session is not None:
            self._session.reset()

    @property
    def temporal(self) -> bool:
        """True for a model that carries state between frames."""
        return self._session is not None

    @property
    def resets(self) -> dict:
        """A temporal model's state resets so far, by reason (start, caps, cut, ...; runtime/temporal.py)."""
        return dict(self._session.resets) if self._session is not None else {}

    @property
    def repeats(self) -> int:
        """Frames identical to the one before them, given its output again (runtime/temporal.py)."""
        return self._session.repeats if self._session is not None else 0

    def _denoise(self, image: np.ndarray) -> np.ndarray:
        if self._session is not None:
            self.backend      # raises if closed
            return self._session(image)
        from .frames import denoise_image

        return denoise_image(self.backend, image, overlap=self.overlap)

    # ---- the engine
    @property
    def backend(self):
        if self._backend is None:
            raise RuntimeError("Denoiser is closed")
        return self._backend

    @property
    def info(self):
        """The engine's :class:`~.backends.base.BackendInfo` (backend, device, precision, size multiple)."""
        return self.backend.info

    def __repr__(self) -> str:
        if self._backend is None:
            return "Denoiser(closed)"
        return f"Denoiser({self._backend.artifact.name}: {self._backend.info.describe()})"

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> "Denoiser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
