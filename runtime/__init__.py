"""hushframe runtime: run an exported denoiser on video, images and live sources.

No module here imports torch at import time: the runtime installs (``hushframe[runtime-onnx]``,
``hushframe[runtime-openvino]``, ``hushframe[runtime-tensorrt]``) carry numpy, pillow, PyAV and
one engine only. The data path reads straight:

    sources.open_source(...)  -> Frame (uint8 HxWx3, pts, time_base)
    frames.to_batch(...)      -> float32 NCHW in [0,1], padded to the engine's multiple
    backends.open_backend(...).infer(batch) -> float32 NCHW
    frames.from_output(...)   -> uint8 HxWx3, cropped
    sinks.open_sink(...)      -> video file / image folder / nothing

Entry points for other code (the demo): :func:`hushframe.runtime.stream.stream_video`,
:func:`hushframe.runtime.parity.run_parity` (and its steps run/compare/gate/report),
:func:`hushframe.runtime.bench.run_bench`; each takes one :class:`hushframe.runtime.options.RunOptions`
(backend, device, threads, tile, overlap, precision), as do the CLI and the GStreamer element.
"""
