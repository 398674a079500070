"""One stream through a temporal model: the state carried from frame to frame, and when it is dropped.

    session = TemporalSession(backend)          # backend.info.temporal
    for frame in source:
        clean = session(frame.image, index=frame.index, pts=frame.pts)

Each step aligns the previous ``state_out`` to the new frame (core/temporal.py: DIS flow between
the two noisy frames, resampled outside the graph) and runs ``backend.infer_state``. The state is
dropped (the model then denoises the frame on its own, exactly as its per-frame student) when the
history no longer belongs to the frame:

* ``start``: the first frame of the stream;
* ``caps``: the frame size changed (a caps change, a resolution switch);
* ``seek``: the index or timestamp went backwards or repeated;
* ``dropped``: frames are missing between this one and the last (a live source in latency mode
  dropped them, or the caller skipped some): the flow over a gap is unreliable;
* ``cut``: motion does not explain the new frame (mean grey residual after alignment above
  ``cut_threshold``): a scene cut, a camera switch;
* ``discontinuity``: the caller says so (a GStreamer DISCONT buffer, a flush, a reconnect).

A frame identical to the last one (a frame-rate conversion's duplicate, a stalled source resending
its buffer) is not new evidence: its noise is the last frame's, and averaging it in as independent
would count that noise twice and shrink the refiner's correction as if the mean held more frames
(a still repeated drifts back towards the noisy frame). It gets the last output again, the state
untouched, and counts under ``repeats``.

``resets`` counts each reason; streams report it. The model's gate handles gradual change (motion,
occlusion, lighting) pixel by pixel; these resets handle what no pixel-level gate can see coming.
Temporal models run whole frames: their state is one frame's size, so they are never tiled.

Lookahead (``lookahead=L``, 0 by default: causal, no latency). A causal running mean has few frames
at the start of a stream and after every reset; there its output is noisier and changes most from
frame to frame. On 20-frame still clips the *oracle* causal mean flickers 0.63 where atadenoise
(a centred 15-frame window: 7 ahead) flickers 0.36 (benchmarks/results/video-causal-floor.json): no
causal model can close that. With L frames of delay, frame t's output also uses frames t+1 .. t+L, where the
session knows they show the same scene:

    z_{t+L} = y_{t+L};   z_s = w_{s+1} z_{s+1} + (1 - w_{s+1}) y_s   for s = t+L-1 .. t

``y_s`` is the model's causal output at s and ``w_s`` in [0,1], per pixel, how much of frame s-1's
history the model's own gate kept at s, ``(count_s - 1) / count_{s-1}`` (its state says it), and
only where the flow between the two frames is exactly zero (the still-block test): there both
outputs sit on the same pixel grid, no resampling and no inverse flow is needed, and the newer
output holds every frame the older one held and more. Where the camera or the content moves, frame t
keeps its causal output. Costs L full-frame multiply-adds per output (+16-23 ms per 1080p frame at L = 4-8,
benchmarks/results/video-time.json, AMD EPYC, 2 threads) and L frames of latency; the graph and the state are unchanged.
(The oracle mean with L frames of delay on those clips, moderate noise: 45.48 / 0.63 causal, 46.05 / 0.47
with L=1, 46.48 / 0.40 with L=2, 47.11 / 0.32 with L=4, PSNR dB / flicker, same file. Trained students:
benchmarks/results/video.json, rows "+4 ahead" / "+8 ahead": still clips gain 1.3-2.2 dB; moving footage
in low light can lose 0.5 dB, where small motions lost in the noise pass the still-block test.)
``push`` returns the outputs that are ready, ``flush`` the rest at the end of a stream; a reset (any
reason) finalises what is pending.
"""

from __future__ import annotations

import os
from collections import Counter, deque

import numpy as np

from hushframe.core.temporal import FlowEstimator, align_state, gray_for_flow, zero_state

from .errors import ShapeError
from .frames import from_output, to_batch

# Mean absolute grey difference (0-1) left after motion compensation that counts as a scene cut. Noise
# alone leaves ~0.01-0.03 at low light on half-resolution grey; a cut between unrelated scenes leaves
# ~0.1-0.3. A false cut costs one frame of history, a missed one is caught by the model's gate.
CUT_THRESHOLD = 0.10
MAX_LOOKAHEAD = 8            # frames of delay a session accepts
BLEND_ROWS = 64              # rows per block of the lookahead blend (3 x 64 x 1920 floats: cache-sized)


class LookaheadError(ShapeError, ValueError):
    """A lookahead asked of a model that denoises each frame on its own."""


def check_lookahead(backend, lookahead: int) -> None:
    """One LookaheadError line where ``lookahead`` is asked of a per-frame model."""
    if lookahead and not backend.info.temporal:
        raise LookaheadError(f"{backend.artifact.name}: lookahead {lookahead} needs a temporal model; this one "
                             f"denoises each frame on its own")


def open_session(backend, *, threads: int | None = None, lookahead: int = 0) -> "TemporalSession | None":
    """One stream's state on an opened backend: a TemporalSession for a temporal model, None for a
    per-frame one. Every caller (Denoiser, stream, parity, bench, the GStreamer engine) opens it here, so a
    lookahead is refused alike everywhere (ValueError: a bad value; LookaheadError: a per-frame model)."""
    check_lookahead(backend, lookahead)
    return TemporalSession(backend, threads=threads, lookahead=lookahead) if backend.info.temporal else None


class TemporalSession:
    """The state of one stream through an opened temporal backend."""

    def __init__(self, backend, *, threads: int | None = None, cut_threshold: float = CUT_THRESHOLD,
                 lookahead: int = 0):
        info = backend.info
        if not info.temporal:
            raise ShapeError(f"{backend.artifact.name}: not a temporal model")
        if isinstance(lookahead, bool) or not isinstance(lookahead, int) or not 0 <= lookahead <= MAX_LOOKAHEAD:
            raise ValueError(f"lookahead {lookahead!r}: a whole number of frames, 0 to {MAX_LOOKAHEAD}")
        self.lookahead = lookahead
        self._threads = max(1, min(int(threads or os.cpu_count() or 1), 8))
        self._pool = None            # lookahead blend threads, started on first use
        self.backend = backend
        self.cut_threshold = float(cut_threshold)
        self._flow = FlowEstimator(threads)
        self.resets: Counter = Counter()
        self.frames = 0
        self.repeats = 0
        self._clear()

    def _clear(self) -> None:
        self._state = None           # the last state_out (padded frame size)
        self._y = None               # the last output (a repeated frame gets it again)
        self._gray = None            # the last frame, grey, as the flow sees it
        self._shape = None
        self._index = None
        self._pts = None
        self._last = None            # the last input frame (uint8), to recognise a repeat
        self._pending = deque()      # lookahead: [tags, causal output, weight to the one before] per frame

    def reset(self) -> None:
        """Start a new stream: the next frame carries nothing from earlier ones."""
        self._clear()

    def _why_reset(self, image: np.ndarray, index, pts) -> str | None:
        if self._state is None:
            return "start"
        if image.shape != self._shape:
            return "caps"
        if index is not None and self._index is not None:
            if index <= self._index:
                return "seek"
            if index > self._index + 1:
                return "dropped"
        if pts is not None and self._pts is not None and pts <= self._pts:
            return "seek"
        return None

    def step(self, x: np.ndarray, image: np.ndarray, *, index: int | None = None, pts: int | None = None,
             discontinuity: bool = False) -> np.ndarray:
        """One padded 1 x 3 x H x W frame (``image``: the same frame as uint8 H x W x 3, for the flow) ->
        the model's padded 1 x 3 x H x W output; the state moves on. Causal sessions only (lookahead 0)."""
        if self.lookahead:
            raise ValueError(f"a session with lookahead {self.lookahead} returns its outputs late: use push() and flush()")
        return self._advance(x, image, index=index, pts=pts, discontinuity=discontinuity)[0]

    def _advance(self, x: np.ndarray, image: np.ndarray, *, index, pts, discontinuity: bool):
        """The causal step: (output, what happened: "repeat" | "reset" | "next", weight or None).

        The weight (lookahead only) is w_t of the module docstring, 1 x 1 x H x W."""
        info = self.backend.info
        if not info.accepts(x.shape[2], x.shape[3]):
            raise ShapeError(f"{self.backend.artifact.name}: a temporal model runs whole frames and "
                             f"{self.backend.name} cannot take {x.shape[3]}x{x.shape[2]} ({info.describe()})")
        why = self._why_reset(image, index, pts) or ("discontinuity" if discontinuity else None)
        gray = gray_for_flow(image)
        if why is None and x.shape == self._y.shape and np.array_equal(gray, self._gray) \
                and np.array_equal(image, self._last):
            self._index, self._pts = index, pts
            self.repeats += 1
            self.frames += 1
            return self._y.copy(), "repeat", None
        state = flow = None
        if why is None:
            h, w = image.shape[:2]
            flow = self._flow(gray, self._gray, h, w)
            if self._flow.residual > self.cut_threshold:
                why = "cut"
            else:
                state = align_state(self._state, flow)
        if why is not None:
            self.resets[why] += 1
            state = zero_state(x.shape[0], x.shape[2], x.shape[3], info.state_channels)
        y, self._state = self.backend.infer_state(x, state)
        weight = None
        if self.lookahead and why is None:
            weight = _kept_where_still(state[:, 3:4], self._state[:, 3:4], flow)
            if not weight.any():                     # nothing still (a pan): no link, no blend to pay for
                weight = None
        self._gray, self._shape, self._index, self._pts = gray, image.shape, index, pts
        # a copy (callers such as GStreamer reuse their buffers), into the last one's memory: no new 6 MB per 1080p frame
        if self._last is None or self._last.shape != image.shape:
            self._last = np.empty_like(image)
        np.copyto(self._last, image)
        self._y = y
        self.frames += 1
        return y, ("reset" if why is not None else "next"), weight

    # ---- lookahead
    def push(self, x: np.ndarray, image: np.ndarray, *, tag=None, index: int | None = None, pts: int | None = None,
             discontinuity: bool = False) -> list:
        """Feed one frame (as ``step``); returns ``[(tag, padded output), ...]``: the frames now final, in
        order (none while the lookahead fills, several after a reset). ``tag``: anything the caller needs
        back with the frame's output (its pts, its Frame)."""
        y, kind, weight = self._advance(x, image, index=index, pts=pts, discontinuity=discontinuity)
        if not self.lookahead:
            return [(tag, y)]
        if kind == "repeat":
            if self._pending:
                self._pending[-1][0].append(tag)        # final when the frame it repeats is
                return []
            return [(tag, y)]
        ready = self.flush() if kind == "reset" else []
        # no copy: infer_state hands back new arrays (backends/base.py), kept here until final
        self._pending.append([[tag], y, weight])
        if len(self._pending) > self.lookahead:
            ready += self._emit_first()
        return ready

    def push_image(self, image: np.ndarray, *, tag=None, index: int | None = None, pts: int | None = None,
                   discontinuity: bool = False) -> list:
        """``push`` for a uint8 H x W x 3 frame: ``[(tag, uint8 H x W x 3 output), ...]`` now final (each
        cropped to its own frame's size: frames flushed by a caps change keep theirs)."""
        info = self.backend.info
        x = to_batch([image], info.size_multiple, info.min_hw)
        return _as_images(self.push(x, image, tag=(tag, image.shape[:2]), index=index, pts=pts,
                                    discontinuity=discontinuity))

    def flush_images(self) -> list:
        """``flush`` after ``push_image``: the pending frames as uint8 outputs."""
        return _as_images(self.flush())

    def flush(self) -> list:
        """The pending frames' outputs (end of stream), with whatever lookahead they have; the state stays."""
        ready = []
        while self._pending:
            ready += self._emit_first()
        return ready

    def _emit_first(self) -> list:
        p = self._pending
        last = 0
        while last < min(self.lookahead, len(p) - 1) and p[last + 1][2] is not None:
            last += 1                                # the chain ends where a frame has no still link to the one before
        if last == 0:
            z = p[0][1]
        else:
            chain = [p[j] for j in range(last + 1)]
            z = np.empty_like(p[0][1])               # one new frame per output (the caller keeps it)
            self._blend_chain(z, [q[1] for q in chain], [q[2] for q in chain])
        tags = p.popleft()[0]
        return [(t, z if i == 0 else z.copy()) for i, t in enumerate(tags)]

    def _blend_chain(self, out: np.ndarray, ys: list, ws: list) -> None:
        """out = z_s of the module docstring from ys = [y_s .. y_{s+k}] and ws[j] = w_{s+j} (j >= 1).

        In blocks of rows, each block's whole chain at once, over the session's threads: the blend is
        memory-bound: three full-frame passes per link read and write every frame three times, a cache-sized
        block's chain reads each frame once (numpy's ufuncs release the GIL, so blocks run in parallel)."""
        h = out.shape[2]

        def rows(a: int, b: int) -> None:
            o = out[:, :, a:b]
            np.copyto(o, ys[-1][:, :, a:b])
            for j in range(len(ys) - 1, 0, -1):      # z_{s+j-1} = y + w_{s+j} (z_{s+j} - y)
                y = ys[j - 1][:, :, a:b]
                o -= y
                o *= ws[j][:, :, a:b]
                o += y

        blocks = [(a, min(a + BLEND_ROWS, h)) for a in range(0, h, BLEND_ROWS)]
        if self._threads <= 1 or len(blocks) == 1:
            for ab in blocks:
                rows(*ab)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="hushframe-lookahead")
        for f in [self._pool.submit(rows, *ab) for ab in blocks]:
            f.result()

    def __call__(self, image: np.ndarray, *, index: int | None = None, pts: int | None = None,
                 discontinuity: bool = False) -> np.ndarray:
        """uint8 H x W x 3 in, uint8 H x W x 3 out (padding as frames.denoise_image)."""
        info = self.backend.info
        h, w = image.shape[:2]
        x = to_batch([image], info.size_multiple, info.min_hw)
        y = self.step(x, image, index=index, pts=pts, discontinuity=discontinuity)
        return from_output(y[0], h, w)

    def close(self) -> None:
        """Stop the lookahead's blend threads (if any ran); the session stays usable (they restart)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def summary(self) -> dict:
        return {"frames": self.frames, "resets": dict(self.resets), "repeats": self.repeats,
                "lookahead": self.lookahead}


def _as_images(ready: list) -> list:
    return [(tag, from_output(y[0], *hw)) for (tag, hw), y in ready]


def _kept_where_still(count_before: np.ndarray, count_after: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """w_t: the share of frame t-1's history the model kept at t, where the flow is exactly zero; 0 elsewhere.

    ``count_before``: the aligned state's count (1 x 1 x th x tw); ``count_after``: the new state's;
    ``flow``: the unpadded h x w x 2 flow (padding takes its nearest pixel's, as the state does).

    In place, one frame-sized buffer: numpy's reduction over the flow's last axis (2 wide) and np.where's
    temporaries made this, per frame, a large part of the lookahead's cost."""
    moving = flow[..., 0] != 0
    moving |= flow[..., 1] != 0
    th, tw = count_before.shape[2:]
    h, w = moving.shape
    if (th, tw) != (h, w):
        moving = np.pad(moving, ((0, th - h), (0, tw - w)), mode="edge")
    before = count_before[0, 0]
    moving |= before <= 0.5                              # no history to speak of: no link
    kept = np.subtract(count_after[0, 0], 1.0, dtype=np.float32)
    kept /= np.maximum(before, 0.5)
    np.clip(kept, 0.0, 1.0, out=kept)
    kept[moving] = 0.0
    return kept[None, None]


def frame_function(backend, overlap: int = 32):
    """``f(image, index=None, pts=None) -> image`` for one stream: a TemporalSession for a temporal
    model, frames.denoise_image for a per-frame one (the two shapes of model every caller handles)."""
    if backend.info.temporal:
        return TemporalSession(backend)
    from .frames import denoise_image

    def per_frame(image, index=None, pts=None, discontinuity=False):
        return denoise_image(backend, image, overlap=overlap)

    return per_frame
