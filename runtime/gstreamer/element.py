"""The ``hushframe`` GStreamer element: a GstBase.BaseTransform that denoises frames in place.

Loaded by GStreamer's Python plugin loader (Debian: gstreamer1.0-python3-plugin-loader +
python3-gst-1.0) through the small file that ``hushframe gstreamer --plugin-path`` points at
(plugin.py). The frame work is engine.FrameEngine (the runtime's backends, padding and tiling);
this file only maps buffers to numpy views of their planes and turns failures into one
GStreamer error message.

    gst-launch-1.0 videotestsrc num-buffers=12 ! video/x-raw,format=NV12,width=320,height=192 \\
        ! hushframe model=student.xml ! videoconvert ! y4menc ! filesink location=out.y4m

A temporal model with ``lookahead=L`` (runtime/temporal.py) gives each frame's output L frames later:
the element drops the first L buffers, writes into each later buffer the output now final with that
frame's timestamps, pushes what is still pending before EOS and before a new segment, and drops it
on a flush (a seek: those frames are not wanted). It adds those L frames (at the caps' frame rate) to
the pipeline's LATENCY answer, so a live pipeline's sinks wait for them instead of dropping them as
late: a probe on the src pad amends the answer after BaseTransform has forwarded the query upstream
(overriding ``do_query`` cannot be done from Python: BaseTransform's and Element's are ambiguous).
"""

from __future__ import annotations

import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GObject, Gst, GstBase, GstVideo  # noqa: E402

from collections import deque  # noqa: E402

import numpy as np  # noqa: E402

from ..backends.base import backend_help  # noqa: E402
from .engine import FrameEngine  # noqa: E402
from .yuv import FORMATS, ColorSpace  # noqa: E402

Gst.init(None)

CAPS = Gst.Caps.from_string(f"video/x-raw,format={{ {', '.join(FORMATS)} }},"
                            "width=[1,2147483647],height=[1,2147483647]")
RW = GObject.ParamFlags.READWRITE


def _plane_views(mv, fmt: str, h: int, w: int, offsets, strides) -> list[np.ndarray]:
    """Writable numpy views of a mapped frame's planes (row strides as the buffer has them)."""
    buf = np.frombuffer(mv, dtype=np.uint8)
    ast = np.lib.stride_tricks.as_strided

    def plane(i, shape, inner):
        return ast(buf[offsets[i]:], shape=shape, strides=(strides[i],) + inner)

    if fmt in ("RGB", "BGR"):
        return [plane(0, (h, w, 3), (3, 1))]
    ch, cw = (h + 1) // 2, (w + 1) // 2
    if fmt == "NV12":
        return [plane(0, (h, w), (1,)), plane(1, (ch, cw, 2), (2, 1))]
    return [plane(0, (h, w), (1,)), plane(1, (ch, cw), (1,)), plane(2, (ch, cw), (1,))]


def _colorspace(info) -> ColorSpace:
    c = info.colorimetry
    ok, kr, kb = GstVideo.VideoColorMatrix.get_Kr_Kb(c.matrix)
    if not ok:  # unknown/RGB matrix on a YUV format: GStreamer's own fallback for SD is BT.601
        kr, kb = 0.299, 0.114
    return ColorSpace(kr, kb, full_range=c.range == getattr(GstVideo.VideoColorRange, "0_255"))


class Hushframe(GstBase.BaseTransform):
    __gtype_name__ = "GstHushframe"   # instances are named hushframe0, hushframe1, ...
    __gstmetadata__ = ("hushframe denoiser", "Filter/Effect/Video",
                       "Self-supervised video denoising with a hushframe artifact (.onnx, .xml, .engine, .safetensors)",
                       "hushframe")
    __gsttemplates__ = (Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, CAPS),
                        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, CAPS))
    __gproperties__ = {
        "model": (str, "model", "hushframe artifact: .onnx, .xml (OpenVINO IR), .engine (TensorRT) or .safetensors",
                  None, RW),
        "backend": (str, "backend", backend_help(), "auto", RW),
        "device": (str, "device", "auto | cpu | cuda[:N] | an OpenVINO device name (GPU, NPU)", "auto", RW),
        "tile": (str, "tile", "tile frames larger than WIDTHxHEIGHT (empty: only above the engine's maximum)", "", RW),
        "overlap": (int, "overlap", "overlap between tiles in pixels", 0, 4096, 64, RW),
        "threads": (int, "threads", "engine CPU threads (0: all cores)", 0, 1024, 0, RW),
        "precision": (str, "precision", "auto (the artifact's own) | fp32 | fp16 | bf16 (engines that can choose: "
                                        "OpenVINO)", "auto", RW),
        "convert": (str, "convert", "NV12/I420: auto (inside the engine graph where it can) | numpy", "auto", RW),
        "lookahead": (int, "lookahead", "temporal models: frames of delay; each output also uses the next frames "
                                        "where the scene is still (0: causal, no delay); for static cameras: on moving "
                                        "footage in low light it can ghost", 0, 8, 0, RW),
    }

    def __init__(self):
        super().__init__()
        self.props_ = {"model": None, "backend": "auto", "device": "auto", "tile": "", "overlap": 64, "threads": 0,
                       "precision": "auto", "convert": "auto", "lookahead": 0}
        self.engine = None
        self.ready = deque()      # lookahead: (timestamps, output) final but not yet written into a buffer
        self.t_first = self.t_last = None
        self.info = None
        self.srcpad.add_probe(Gst.PadProbeType.QUERY_UPSTREAM | Gst.PadProbeType.PULL, self._latency_probe)

    def do_get_property(self, prop):
        return self.props_[prop.name]

    def do_set_property(self, prop, value):
        self.props_[prop.name] = value

    # ------------------------------------------------------------------ errors
    def _error(self, domain, code, text: str) -> None:
        """One GStreamer ERROR message: gst-launch prints 'ERROR: from element .../hushframe0: TEXT'."""
        self.message_full(Gst.MessageType.ERROR, domain.quark(), code, text, None, __file__, "hushframe", 0)

    # ------------------------------------------------------------------ lifecycle
    def do_start(self):
        p = self.props_
        if not p["model"]:
            self._error(Gst.ResourceError, Gst.ResourceError.NOT_FOUND,
                        "no model set: give one, e.g. hushframe model=student.xml")
            return False
        try:
            from ..options import RunOptions

            options = RunOptions(backend=p["backend"], device=p["device"], threads=p["threads"] or None,
                                 tile=p["tile"] or None, overlap=p["overlap"], precision=p["precision"])
            self.engine = FrameEngine(p["model"], options, convert=p["convert"], lookahead=p["lookahead"])
        except Exception as e:  # noqa: BLE001 - every failure becomes one error message
            self._error(Gst.ResourceError, Gst.ResourceError.OPEN_READ, _one_line(e))
            return False
        self.t_first = self.t_last = None
        self.ready.clear()
        return True

    def do_stop(self):
        if self.engine is not None:
            self.engine.close()
            self.engine = None
        return True

    def do_set_caps(self, incaps, outcaps):
        info = GstVideo.VideoInfo.new_from_caps(incaps)
        self.info = info
        self.fmt = info.finfo.name
        try:
            path = self.engine.configure(self.fmt, info.height, info.width, _colorspace(info))
        except Exception as e:  # noqa: BLE001
            self._error(Gst.CoreError, Gst.CoreError.NEGOTIATION, _one_line(e))
            return False
        Gst.info(f"hushframe: {self.fmt} {info.width}x{info.height} via {path}: {self.engine.describe()}")
        return True

    def do_sink_event(self, event):
        if self.engine is not None and self.engine.lookahead and event.type in (Gst.EventType.EOS,
                                                                                 Gst.EventType.SEGMENT):
            if self._push_pending() != Gst.FlowReturn.OK:     # the last frames of this segment, before it ends
                self.ready.clear()
        if event.type == Gst.EventType.EOS and self.engine is not None:
            self._post_stats()
        elif event.type in (Gst.EventType.FLUSH_STOP, Gst.EventType.SEGMENT) and self.engine is not None:
            self.ready.clear()          # a flush: the pending frames are not wanted (a segment: pushed above)
            self.engine.reset()         # a seek or a new segment: a temporal model's history is another scene's
        return GstBase.BaseTransform.do_sink_event(self, event)

    def _latency_probe(self, pad, probe):
        """A LATENCY answer from upstream, amended with the lookahead's L frames (unknown frame rate: as is)."""
        q = probe.get_query()
        ahead = self.engine.lookahead if self.engine is not None else 0
        if q is None or q.type != Gst.QueryType.LATENCY or not ahead:
            return Gst.PadProbeReturn.OK
        info = self.info
        if info is None or info.fps_n <= 0 or info.fps_d <= 0:
            if info is not None:
                Gst.warning("hushframe: lookahead with no frame rate in the caps: latency not reported")
            return Gst.PadProbeReturn.OK
        extra = Gst.util_uint64_scale_int(ahead * Gst.SECOND, info.fps_d, info.fps_n)
        live, lo, hi = q.parse_latency()
        q.set_latency(live, lo + extra, hi if hi == Gst.CLOCK_TIME_NONE else hi + extra)
        return Gst.PadProbeReturn.OK

    def _push_pending(self):
        """Lookahead: every output still pending, each in a new buffer with its frame's timestamps."""
        try:
            self.ready.extend(self.engine.flush())
            while self.ready:
                stamps, out = self.ready.popleft()
                buf = Gst.Buffer.new_allocate(None, self.info.size, None)
                ok, m = buf.map(Gst.MapFlags.WRITE)
                if not ok:
                    raise RuntimeError("cannot map a new buffer for writing")
                planes = None
                try:
                    planes = _plane_views(m.data, self.fmt, self.info.height, self.info.width,
                                          self.info.offset, self.info.stride)
                    self.engine.write(planes, out)
                finally:
                    del planes
                    buf.unmap(m)
                _set_stamps(buf, stamps)
                ret = self.srcpad.push(buf)
                if ret != Gst.FlowReturn.OK:
                    return ret
        except Exception as e:  # noqa: BLE001
            self._error(Gst.StreamError, Gst.StreamError.FAILED, _one_line(e))
            return Gst.FlowReturn.ERROR
        return Gst.FlowReturn.OK

    def _post_stats(self):
        e = self.engine
        s = Gst.Structure.new_empty("hushframe-stats")
        s.set_value("frames", e.frames)
        s.set_value("seconds", float((self.t_last - self.t_first) if self.t_first else 0.0))
        s.set_value("infer-seconds", float(e.infer_s))
        s.set_value("path", str(e.path))
        s.set_value("state-resets", ", ".join(f"{k} {v}" for k, v in e.resets.items()))
        self.post_message(Gst.Message.new_element(self, s))

    # ------------------------------------------------------------------ frames
    def do_transform_ip(self, buf):
        if self.t_first is None:
            self.t_first = time.perf_counter()
        info = self.info
        meta = GstVideo.buffer_get_video_meta(buf)
        offsets, strides = (meta.offset, meta.stride) if meta else (info.offset, info.stride)
        ok, m = buf.map(Gst.MapFlags.READ | Gst.MapFlags.WRITE)
        if not ok:
            self._error(Gst.StreamError, Gst.StreamError.FAILED, "cannot map a frame for writing")
            return Gst.FlowReturn.ERROR
        planes = None
        try:
            planes = _plane_views(m.data, self.fmt, info.height, info.width, offsets, strides)
            index, discont = _frame_index(buf), buf.has_flags(Gst.BufferFlags.DISCONT)
            if not self.engine.lookahead:
                self.engine.process(planes, index=index, discontinuity=discont)
                stamps = None
            else:
                self.ready.extend(self.engine.push(planes, _stamps(buf), index=index, discontinuity=discont))
                if not self.ready:               # the lookahead is filling: this buffer leaves later, as an output
                    return Gst.FlowReturn.CUSTOM_SUCCESS          # GST_BASE_TRANSFORM_FLOW_DROPPED
                stamps, out = self.ready.popleft()
                self.engine.write(planes, out)
        except Exception as e:  # noqa: BLE001
            self._error(Gst.StreamError, Gst.StreamError.FAILED, _one_line(e))
            return Gst.FlowReturn.ERROR
        finally:
            del planes
            buf.unmap(m)
        if stamps is not None:
            _set_stamps(buf, stamps)
        self.t_last = time.perf_counter()
        return Gst.FlowReturn.OK


def _frame_index(buf) -> int | None:
    """The buffer's frame number from its timestamp and duration: a gap means dropped frames (None if unknown)."""
    if buf.pts == Gst.CLOCK_TIME_NONE or buf.duration in (0, Gst.CLOCK_TIME_NONE):
        return None
    return int(round(buf.pts / buf.duration))


def _stamps(buf) -> tuple:
    return buf.pts, buf.dts, buf.duration, buf.offset, buf.offset_end


def _set_stamps(buf, stamps: tuple) -> None:
    """An output's buffer carries its own frame's timestamps (lookahead: a later buffer's memory)."""
    buf.pts, buf.dts, buf.duration, buf.offset, buf.offset_end = stamps


def _one_line(e: BaseException) -> str:
    s = str(e).strip().splitlines()
    return s[0] if s else e.__class__.__name__


GObject.type_register(Hushframe)
FACTORY = ("hushframe", Gst.Rank.NONE, Hushframe)
