"""``stream_video``: INPUT -> model -> OUT, the function behind ``hushframe stream``.

    from hushframe.runtime.stream import stream_video
    stats = stream_video("clip.mp4", "student.onnx", "clean.mp4")          # auto backend
    print(stats.line(), stats.summary())

See :mod:`hushframe.runtime.pipeline` for the threading and :mod:`.sources`/:mod:`.sinks`
for what INPUT and OUT may be.
"""

from __future__ import annotations

from .options import RunOptions
from .pipeline import Pipeline, StreamStats


def stream_video(source, model, output=None, *, options: RunOptions | None = None, batch: int = 1,
                 codec: str = "h264", crf: int = 18, preset: str = "veryfast", mode: str = "auto",
                 max_frames: int | None = None, queue_size: int = 4, fps: float = 25.0, retries: int = 5,
                 backoff: float = 0.5, timeout: float = 10.0, live: bool | None = None, progress=None,
                 stop_event=None, on_backend=None, overwrite: bool = False,
                 flush_interval: float | None = None, lookahead: int = 0, **run) -> StreamStats:
    """Denoise a video/image sequence/live stream and write it out.

    Args:
        source: path of a video file, image folder, glob, ``/dev/videoN``, ``lavfi:GRAPH`` or a URL;
            or an already opened :class:`~.sources.Source`.
        model: artifact path (.onnx, .xml, .engine, .safetensors) or an opened :class:`~.backends.Backend`
            (left open for the caller).
        output: video file path (.mp4/.mkv/...), image folder, an image file name for a single-image
            source, or None for no output. An existing output is refused unless ``overwrite``.
        options: how the model runs (:class:`~.options.RunOptions`: backend, device, threads, tile,
            overlap, precision); ``backend="openvino"``, ``tile=(512, 512)`` ... are shorthands for its
            fields. ``tile`` forces tiling with tiles of at most (H, W); frames above the engine's
            maximum are always tiled; ``overlap`` is blended with a raised-cosine window.
        mode: ``auto`` (latency for live sources, throughput for files), ``latency`` or ``throughput``;
            only live sources ever drop frames, and only in latency mode.
        progress: callable(StreamStats) after every written frame.
        stop_event: a threading.Event; setting it stops the run cleanly (output finalized).
        on_backend: callable(backend) once the engine is loaded (the CLI prints the choice).
        max_frames: stop once this many frames are written.
        lookahead: a temporal model's frames of delay (runtime/temporal.py); 0: causal.
        flush_interval: seconds between forced writes of a video output (Matroska clusters, MP4
            fragments; see :class:`~.sinks.VideoSink`); None: 1 s for live sources and for files written
            to .mkv/.webm, off for other file outputs (a plain .mp4, renamed into place when complete).

    Returns the run's :class:`~.pipeline.StreamStats`. Errors (:class:`~.errors.SourceError`,
    :class:`~.errors.SourceLost`, :class:`~.errors.SinkError`) carry ``.stats`` too; a run that
    writes no frame at all (every input unreadable) raises :class:`~.errors.SourceError`.
    """
    from .backends.base import Backend
    from .sinks import default_flush_interval, open_sink
    from .errors import SourceError
    from .sources import Source, open_source

    options = RunOptions.of(options, **run)
    if mode not in ("auto", "latency", "throughput"):
        raise ValueError(f"mode must be auto, latency or throughput, not {mode!r}")
    own_backend = not isinstance(model, Backend)
    src = source if isinstance(source, Source) else open_source(source, fps=fps, live=live, retries=retries,
                                                                backoff=backoff, timeout=timeout)
    try:
        if flush_interval is None:
            flush_interval = default_flush_interval(output, src.live)
        # flushing bounds a kill's loss in wall-clock time only if the encoder holds no frames (no lookahead)
        sink = open_sink(output, codec=codec, crf=crf, preset=preset, overwrite=overwrite,
                         single_image=src.kind == "images" and src.total == 1, flush_interval=flush_interval,
                         low_latency=flush_interval > 0, realtime=src.live)
        be = options.open(model) if own_backend else model
        try:
            if on_backend is not None:
                on_backend(be)
            latency = mode == "latency" or (mode == "auto" and src.live)
            pipe = Pipeline(src, be, sink, batch=batch, queue_size=queue_size, latency_mode=latency,
                            overlap=min(options.overlap, _max_overlap(be, options.tile)), max_frames=max_frames, progress=progress,
                            stop_event=stop_event, lookahead=lookahead)
            st = pipe.run()
            if st.frames_out == 0 and not st.interrupted:
                label = getattr(src, "label", source)
                why = (st.warnings[0] if st.warnings else
                       f"{label}: {st.corrupt} unreadable frames skipped" if st.corrupt else f"{label}: no frames decoded")
                e = SourceError(f"nothing written: {why}")
                e.stats = st
                raise e
            return st
        finally:
            if own_backend:
                be.close()
    finally:
        src.close()


def _max_overlap(be, tile) -> int:
    mh = be.info.max_hw
    if mh is None:
        return 1 << 30
    return max(0, min(mh) // 2)

