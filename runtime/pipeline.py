"""Threads joined by bounded queues: decode -> preprocess -> infer -> postprocess -> encode.

Each stage is one thread and each queue is FIFO, so frame order is kept by construction.
Queues are bounded (``queue_size``): a slow stage blocks the ones before it, so memory
stays flat and files never drop a frame. In latency mode a *live* source never blocks:
when the first queue is full the oldest waiting frame is dropped (and counted), so the
output follows the present.

Stopping: ``abort`` (set on Ctrl-C, on an error in any stage, or by ``stop_event``) makes
the decoder stop and the middle stages discard; every stage still forwards the end
marker, and the encoder always closes the sink, so the container is finalized.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from .frames import Frame, from_output, padded_size, to_padded_chw
from .tiling import infer_tiled, needs_tiling

_EOS = object()
LATENCY_WINDOW = 100_000


@dataclass
class StreamStats:
    """What a run did; ``summary()`` gives the numbers printed at the end."""

    frames_in: int = 0          # frames that left the decoder
    frames_out: int = 0         # frames written to the sink
    dropped: int = 0            # frames dropped in latency mode (live sources only)
    corrupt: int = 0            # corrupt frames/packets skipped by the decoder
    reconnects: int = 0
    tiled_frames: int = 0
    batches: int = 0
    infer_s: float = 0.0        # seconds inside backend.infer
    wall_s: float = 0.0
    # seconds, decode -> written, per frame: the most recent LATENCY_WINDOW frames only, so a run of months
    # keeps a fixed-size record (a plain list grew by ~30 bytes per frame, ~2.5 GB a month at 30 fps)
    latencies: collections.deque = field(default_factory=lambda: collections.deque(maxlen=LATENCY_WINDOW))
    interrupted: bool = False
    error: str | None = None
    backend: str = ""
    warnings: list = field(default_factory=list)
    resets: dict | None = None  # a temporal model's state resets by reason (runtime/temporal.py); None: per-frame
    repeats: int = 0            # frames identical to the one before: given its output again (runtime/temporal.py)

    @property
    def fps(self) -> float:
        return self.frames_out / self.wall_s if self.wall_s > 0 else 0.0

    def latency_ms(self, q: float) -> float | None:
        return float(np.percentile(self.latencies, q) * 1000.0) if self.latencies else None

    def summary(self) -> dict:
        return {
            "frames_in": self.frames_in, "frames_out": self.frames_out, "dropped": self.dropped,
            "corrupt_skipped": self.corrupt, "reconnects": self.reconnects, "tiled_frames": self.tiled_frames,
            "wall_s": round(self.wall_s, 3), "fps": round(self.fps, 3),
            "infer_fps": round(self.frames_out / self.infer_s, 3) if self.infer_s > 0 else None,
            "latency_p50_ms": _r(self.latency_ms(50)), "latency_p95_ms": _r(self.latency_ms(95)),
            "latency_p99_ms": _r(self.latency_ms(99)), "interrupted": self.interrupted, "error": self.error,
            "backend": self.backend, **({"state_resets": self.resets, "repeated_frames": self.repeats}
                                        if self.resets is not None else {}),
        }

    def line(self) -> str:
        s = self.summary()
        lat = ("n/a" if s["latency_p50_ms"] is None else
               f"p50 {s['latency_p50_ms']:.0f} / p95 {s['latency_p95_ms']:.0f} / p99 {s['latency_p99_ms']:.0f} ms")
        extra = "".join([f", {self.corrupt} corrupt skipped" if self.corrupt else "",
                         f", {self.reconnects} reconnects" if self.reconnects else "",
                         f", {self.tiled_frames} tiled" if self.tiled_frames else "",
                         (", state resets: " + ", ".join(f"{k} {v}" for k, v in self.resets.items()))
                         if self.resets else "",
                         f", {self.repeats} repeated frames" if self.repeats else ""])
        return (f"{self.frames_out} frames in {self.wall_s:.1f} s: {self.fps:.2f} fps, latency {lat}, "
                f"dropped {self.dropped}{extra}")


def _r(v):
    return None if v is None else round(v, 2)


@dataclass
class _Work:
    frames: list
    x: np.ndarray | None = None     # NCHW padded
    y: np.ndarray | None = None
    tiled: bool = False


class Pipeline:
    def __init__(self, source, backend, sink, *, batch: int = 1, queue_size: int = 4, latency_mode: bool = False,
                 overlap: int = 64, max_frames: int | None = None, progress=None, stop_event=None,
                 lookahead: int = 0):
        self.source, self.backend, self.sink = source, backend, sink
        self.batch = max(1, int(batch))
        self.latency_mode = bool(latency_mode and source.live)
        self.overlap = overlap
        self.max_frames = max_frames
        self.progress = progress
        self.abort = stop_event or threading.Event()
        self._enough = threading.Event()     # max_frames written: the decoder stops, the rest is discarded
        qs = max(1, int(queue_size))
        self.q_dec = queue.Queue(2 if self.latency_mode else qs)
        self.q_pre = queue.Queue(qs)
        self.q_inf = queue.Queue(qs)
        self.q_post = queue.Queue(qs)
        self.stats = StreamStats(backend=backend.info.describe())
        from .temporal import open_session

        # a temporal model: one state for this stream, carried in frame order by the infer thread; with a
        # lookahead frames leave the infer stage L frames late, the rest at EOS (runtime/temporal.py)
        self._session = open_session(backend, lookahead=lookahead)
        if self._session is not None:
            self.batch = 1
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- helpers
    def _fail(self, e: BaseException):
        with self._lock:
            self._errors.append(e)
        self.abort.set()
        stop = getattr(self.source, "stop", None)
        if stop:
            stop()

    def _drain_forward(self, qin, qout, fn, at_end=None):
        """Common loop: get, stop at EOS (forwarding it, after ``at_end()``'s item if any), apply fn unless aborting."""
        try:
            while True:
                item = qin.get()
                if item is _EOS:
                    if at_end is not None and not self.abort.is_set():
                        try:
                            out = at_end()
                        except BaseException as e:  # noqa: BLE001 - passed to the caller
                            self._fail(e)
                            out = None
                        if out is not None:
                            qout.put(out)
                    break
                if self.abort.is_set():
                    continue
                try:
                    out = fn(item)
                except BaseException as e:  # noqa: BLE001 - passed to the caller
                    self._fail(e)
                    continue
                if out is not None:
                    qout.put(out)
        finally:
            qout.put(_EOS)

    # ---------------------------------------------------------------- stages
    def _decode(self):
        st = self.stats
        try:
            for fr in self.source:
                if self.abort.is_set():
                    break
                fr.t_in = time.perf_counter()
                st.frames_in += 1
                if self.latency_mode:
                    try:
                        self.q_dec.put_nowait(fr)
                    except queue.Full:
                        try:
                            self.q_dec.get_nowait()      # drop the oldest waiting frame
                            st.dropped += 1
                        except queue.Empty:
                            pass
                        self.q_dec.put(fr)
                else:
                    self.q_dec.put(fr)
                # --max-frames counts written frames: a file source never drops, so reading that many is
                # enough; a live source in latency mode may drop some, so it reads until the encoder has them
                if self._enough.is_set() or (self.max_frames is not None and not self.latency_mode
                                             and st.frames_in >= self.max_frames):
                    break
        except BaseException as e:  # noqa: BLE001
            self._fail(e)
        finally:
            self.q_dec.put(_EOS)

    def _preprocess(self):
        info = self.backend.info
        pending: list[Frame] = []

        def flush():
            if not pending:
                return
            h, w = pending[0].image.shape[:2]
            th, tw = padded_size(h, w, info.size_multiple, info.min_hw)
            tiled = needs_tiling(info, th, tw)
            x = np.empty((len(pending), 3, th, tw), dtype=np.float32)
            for i, f in enumerate(pending):
                to_padded_chw(f.image, x[i])
            self.q_pre.put(_Work(list(pending), x, tiled=tiled))
            pending.clear()

        try:
            while True:
                item = self.q_dec.get()
                if item is _EOS:
                    if not self.abort.is_set():
                        flush()
                    break
                if self.abort.is_set():
                    continue
                try:
                    if pending and pending[0].image.shape != item.image.shape:
                        flush()
                    pending.append(item)
                    # full batch, or a live source with nothing else waiting: go now
                    if len(pending) >= self.batch or (self.source.live and self.q_dec.empty()):
                        flush()
                except BaseException as e:  # noqa: BLE001
                    self._fail(e)
        finally:
            self.q_pre.put(_EOS)

    def _infer(self, w: _Work):
        t = time.perf_counter()
        if self._session is not None:
            ready = []
            for i, f in enumerate(w.frames):
                ready += self._session.push(w.x[i:i + 1], f.image, tag=f, index=f.index, pts=f.pts)
            self.stats.resets = dict(self._session.resets)
            self.stats.repeats = self._session.repeats
            self.stats.infer_s += time.perf_counter() - t
            self.stats.batches += 1
            return self._ready_work(ready)
        elif w.tiled:
            w.y = np.stack([infer_tiled(self.backend, xi, overlap=self.overlap) for xi in w.x])
            self.stats.tiled_frames += len(w.frames)
        else:
            w.y = self.backend.infer(w.x)
        self.stats.infer_s += time.perf_counter() - t
        self.stats.batches += 1
        w.x = None
        return w

    @staticmethod
    def _ready_work(ready) -> "_Work | None":
        """The frames a temporal session says are final, as one work item (None while a lookahead fills)."""
        if not ready:
            return None
        return _Work([f for f, _ in ready], None, np.concatenate([y for _, y in ready]))

    def _flush_session(self):
        if self._session is None:
            return None
        ready = self._ready_work(self._session.flush())
        self._session.close()          # the end of the stream: the lookahead's blend threads go
        return ready

    def _postprocess(self, w: _Work):
        out = []
        for f, y in zip(w.frames, w.y):
            h, wd = f.image.shape[:2]
            out.append(f.with_image(from_output(y, h, wd)))
        return out

    def _encode(self):
        st = self.stats
        audio = getattr(self.source, "audio_packets", None)
        opened = False
        try:
            while True:
                item = self.q_post.get()
                if item is _EOS:
                    break
                if self.abort.is_set() and self._errors:
                    continue   # an error elsewhere: stop writing, keep what is written
                for fr in item:
                    if self.max_frames is not None and st.frames_out >= self.max_frames:
                        self._enough.set()
                        break
                    try:
                        if not opened:
                            self.sink.open(fr, getattr(self.source, "audio_stream", None))
                            opened = True
                        self.sink.write(fr, audio)
                    except BaseException as e:  # noqa: BLE001
                        self._fail(e)
                        break
                    st.frames_out += 1
                    if self.max_frames is not None and st.frames_out >= self.max_frames:
                        self._enough.set()
                    st.latencies.append(time.perf_counter() - fr.t_in)
                    if self.progress is not None:
                        try:
                            self.progress(st)
                        except Exception:
                            pass
        finally:
            try:
                self.sink.close(audio)
            except BaseException as e:  # noqa: BLE001
                self._fail(e)

    # ---------------------------------------------------------------- run
    def run(self) -> StreamStats:
        st = self.stats
        t0 = time.perf_counter()
        threads = [
            threading.Thread(target=self._decode, name="hf-decode", daemon=True),
            threading.Thread(target=self._preprocess, name="hf-preprocess", daemon=True),
            threading.Thread(target=self._drain_forward, args=(self.q_pre, self.q_inf, self._infer, self._flush_session),
                             name="hf-infer", daemon=True),
            threading.Thread(target=self._drain_forward, args=(self.q_inf, self.q_post, self._postprocess),
                             name="hf-postprocess", daemon=True),
            threading.Thread(target=self._encode, name="hf-encode", daemon=True),
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.1)
        except KeyboardInterrupt:
            st.interrupted = True
            self.abort.set()
            stop = getattr(self.source, "stop", None)
            if stop:
                stop()
            for t in threads:      # the encoder finalizes the container before we return
                while t.is_alive():
                    t.join(0.1)
        st.wall_s = time.perf_counter() - t0
        src = self.source.stats
        st.corrupt = src.get("corrupt", 0)
        st.reconnects = src.get("reconnects", 0)
        st.warnings = list(getattr(self.source, "warnings", [])) + list(getattr(self.sink, "warnings", []))
        if self.abort.is_set() and not st.interrupted and not self._errors:
            st.interrupted = True  # stopped through stop_event
        if self._errors:
            e = self._errors[0]
            st.error = str(e).splitlines()[0] if str(e) else e.__class__.__name__
            e.stats = st
            raise e
        return st
