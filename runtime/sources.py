"""Decoding: video files, image folders/globs, cameras (v4l2), lavfi, RTSP/HTTP URLs -> Frame.

``open_source(spec)`` returns a Source; iterating it yields :class:`~.frames.Frame` objects
in order. Video sources also expose the audio stream (``audio_stream``) and queue its
packets in ``audio_packets`` for the sink to pass through untouched.

Rules:
* a corrupt packet/frame in a file is skipped and counted (``stats['corrupt']``), the
  stream goes on;
* a live or network source that stops is reopened with exponential backoff
  (``retries`` attempts); timestamps continue monotonically across the gap; when it does
  not come back, :class:`SourceLost` is raised after what was read has been delivered.
"""

from __future__ import annotations

import collections
import glob as _glob
import re
import threading
from fractions import Fraction
from pathlib import Path


from hushframe.core.contract import is_image_name

from .errors import SourceError, SourceLost
from .frames import Frame

LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "rtp", "srt", "tcp")
NET_SCHEMES = LIVE_SCHEMES + ("http", "https", "hls")


def _scheme(spec: str) -> str | None:
    m = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://", spec)
    return m.group(1).lower() if m else None


def describe_spec(spec: str) -> str:
    """'lavfi' | 'camera' | 'network' | 'folder' | 'glob' | 'image' | 'video'."""
    s = str(spec)
    if s.startswith("lavfi:"):
        return "lavfi"
    if s.startswith("/dev/video") or s.startswith("v4l2:"):
        return "camera"
    if _scheme(s) in NET_SCHEMES:
        return "network"
    p = Path(s)
    if p.is_dir():
        return "folder"
    if any(ch in s for ch in "*?[") and not p.exists():
        return "glob"
    if is_image_name(p):
        return "image"
    return "video"


class Source:
    """Base: iterate for frames; ``close()`` when done."""

    live = False           # frames arrive in real time (may be dropped in latency mode)
    kind = "source"

    def __init__(self):
        self.stats = {"decoded": 0, "corrupt": 0, "reconnects": 0}
        self.audio_stream = None
        self.audio_packets: collections.deque = collections.deque()
        self.total: int | None = None        # frame count when known
        self.rate: Fraction | None = None
        self.size: tuple[int, int] | None = None  # (h, w) of the first frame when known
        # bounded: a flaky camera can report a corrupt packet every few seconds for months
        self.warnings: collections.deque = collections.deque(maxlen=1000)

    def __iter__(self):
        raise NotImplementedError

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ------------------------------------------------------------------ images
class ImageSource(Source):
    kind = "images"

    def __init__(self, files: list[Path], fps: float = 25.0, label: str = ""):
        super().__init__()
        if not files:
            raise SourceError(f"{label}: no images found")
        self.files = files
        self.total = len(files)
        self.rate = Fraction(fps).limit_denominator(1001)
        self.label = label

    def __iter__(self):
        from hushframe.core.images import ImageError, read_uint8

        tb = 1 / self.rate
        idx = 0
        for i, f in enumerate(self.files):
            try:
                img = read_uint8(f)
            except ImageError as e:
                self.stats["corrupt"] += 1
                self.warnings.append(str(e))
                continue
            self.stats["decoded"] += 1
            yield Frame(idx, img, pts=i, time_base=tb, name=f.stem)
            idx += 1


def _image_files(spec: str, kind: str) -> list[Path]:
    from hushframe.core.images import is_image, list_images

    if kind == "folder":
        return list_images(spec)
    if kind == "image":
        if not Path(spec).exists():
            raise SourceError(f"{spec}: no such file")
        return [Path(spec)]
    return sorted(Path(p) for p in _glob.glob(spec) if is_image(p) and Path(p).is_file())


# ------------------------------------------------------------------ PyAV
class AVSource(Source):
    """Anything FFmpeg demuxes: files, lavfi graphs, v4l2 cameras, RTSP/HTTP/... URLs."""

    kind = "video"

    def __init__(self, url: str, fmt: str | None = None, options: dict | None = None, live: bool = False,
                 network: bool = False, retries: int = 5, backoff: float = 0.5, timeout: float = 10.0,
                 label: str | None = None):
        super().__init__()
        self.url, self.fmt, self.options = url, fmt, dict(options or {})
        self.live, self.network = live, network
        self.retries, self.backoff, self.timeout = retries, backoff, timeout
        self.label = label or url
        self.kind = "live" if live else ("network" if network else "video")
        self._stop = threading.Event()
        self._container = None
        self._open(first=True)

    # -- open / reopen
    def _open(self, first: bool = False):
        import av

        try:
            c = av.open(self.url, mode="r", format=self.fmt, options=self.options,
                        timeout=(self.timeout, self.timeout) if (self.network or self.live) else None)
        except FileNotFoundError:
            raise SourceError(f"{self.label}: no such file") from None
        except PermissionError:
            raise SourceError(f"{self.label}: permission denied") from None
        except (av.FFmpegError, UnicodeDecodeError, ValueError, OSError) as e:
            # a damaged header can also surface as undecodable metadata text (UnicodeDecodeError)
            raise SourceError(f"{self.label}: cannot open ({_av_msg(e)})") from None
        vs = [s for s in c.streams if s.type == "video"]
        if not vs:
            c.close()
            raise SourceError(f"{self.label}: no video stream")
        if vs[0].codec_context is None:  # a codec FFmpeg cannot decode (or a damaged stream header)
            c.close()
            raise SourceError(f"{self.label}: cannot decode its video stream (no decoder for codec "
                              f"'{getattr(vs[0].codec, 'name', '?') if hasattr(vs[0], 'codec') else '?'}')")
        self._container, self._video = c, vs[0]
        self._video.thread_type = "AUTO"
        if first:
            audio = [s for s in c.streams if s.type == "audio"]
            self.audio_stream = audio[0] if audio else None
            self.rate = self._video.average_rate or self._video.guessed_rate
            if not self.live and self._video.frames:
                self.total = int(self._video.frames)
            elif not self.live and self._video.duration and self._video.time_base and self.rate:
                self.total = int(round(float(self._video.duration * self._video.time_base * self.rate)))
            if self._video.codec_context.height:
                self.size = (self._video.codec_context.height, self._video.codec_context.width)

    def _close_container(self):
        if self._container is not None:
            try:
                self._container.close()
            except Exception:
                pass
            self._container = None

    def stop(self):
        """Ask a blocking read to give up (used on Ctrl-C)."""
        self._stop.set()

    def close(self):
        self._stop.set()
        self._close_container()

    # -- iterate
    def __iter__(self):
        import av

        idx = 0
        offset = 0            # pts offset after a reconnect, in the time base of the first stream
        rebase = False
        last_pts = None
        tb = self._video.time_base
        attempts = 0
        while not self._stop.is_set():
            c, v = self._container, self._video
            a = self.audio_stream if attempts == 0 and self.stats["reconnects"] == 0 else None
            streams = [v] + ([a] if a is not None else [])
            ended_cleanly = False
            error = None
            try:
                for packet in c.demux(streams):
                    if self._stop.is_set():
                        return
                    if packet.stream.type == "audio":
                        if packet.dts is not None:
                            self.audio_packets.append(packet)
                        continue
                    try:
                        frames = packet.decode()
                    except av.FFmpegError as e:   # InvalidDataError and friends: skip, count, go on
                        self.stats["corrupt"] += 1
                        self.warnings.append(f"{self.label}: skipped a corrupt packet at pts {packet.pts} ({_av_msg(e)})")
                        continue
                    for fr in frames:
                        if getattr(fr, "is_corrupt", False):
                            self.stats["corrupt"] += 1
                            continue
                        pts = fr.pts if fr.pts is not None else (last_pts + 1 if last_pts is not None else idx)
                        if v.time_base != tb and fr.pts is not None:
                            pts = int(round(fr.pts * v.time_base / tb))
                        if rebase:
                            # first frame after a reconnect: continue one frame after the last one
                            step = max(1, int(round(1 / (self.rate * tb)))) if self.rate else 1
                            offset = (last_pts + step - pts) if last_pts is not None else 0
                            rebase = False
                        pts += offset
                        if last_pts is not None and pts <= last_pts:
                            pts = last_pts + 1
                        last_pts = pts
                        img = fr.to_ndarray(format="rgb24")
                        self.stats["decoded"] += 1
                        attempts = 0
                        yield Frame(idx, img, pts=pts, time_base=tb)
                        idx += 1
                ended_cleanly = True
            except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as e:
                error = e
            if self._stop.is_set():
                return
            if not (self.network or self.kind == "live" and self.fmt == "v4l2"):
                if error is not None and ended_cleanly is False:
                    if self.stats["decoded"] == 0:
                        raise SourceError(f"{self.label}: cannot read ({_av_msg(error)})")
                    # a damaged tail: keep what was decoded, count it, end the stream
                    self.stats["corrupt"] += 1
                    self.warnings.append(f"{self.label}: stopped at a damaged part ({_av_msg(error)})")
                return
            # network/camera: the source went away (EOF or error): reopen with backoff
            why = "ended" if error is None else _av_msg(error)
            self._close_container()
            while True:
                if attempts >= self.retries:
                    raise SourceLost(f"{self.label}: source lost ({why}); gave up after {self.retries} reconnection "
                                     f"attempts")
                delay = self.backoff * (2 ** attempts)
                attempts += 1
                if self._stop.wait(delay):
                    return
                try:
                    self._open()
                except SourceError:
                    continue
                self.stats["reconnects"] += 1
                rebase = True   # a reopened stream restarts its clock somewhere else
                break


def _av_msg(e: Exception) -> str:
    s = getattr(e, "strerror", None) or str(e)
    return str(s).splitlines()[0][:160] if s else e.__class__.__name__


def open_source(spec: str | Path, *, fps: float = 25.0, live: bool | None = None, retries: int = 5,
                backoff: float = 0.5, timeout: float = 10.0, options: dict | None = None) -> Source:
    """Open INPUT: video file, image folder or glob, /dev/videoN, lavfi:GRAPH, or a URL.

    * ``lavfi:testsrc2=size=320x240:rate=25`` opens an FFmpeg filter graph; it is not live (a filter
      graph makes frames as fast as they are read, so nothing is dropped): pass ``live=True`` for a
      graph paced in real time (``...,realtime``) that should behave like a camera;
    * ``/dev/video0`` (or ``v4l2:/dev/video0``) opens a camera through PyAV's v4l2 input;
    * ``rtsp://``, ``rtmp://``, ``udp://``, ``srt://`` are live; ``http(s)://`` is read as a
      network file (pass ``live=True`` for an endless HTTP camera stream).
    """
    s = str(spec)
    kind = describe_spec(s)
    if kind in ("folder", "glob", "image"):
        files = _image_files(s, kind)
        if not files:
            raise SourceError(f"{s}: no images found" if kind != "image" else f"{s}: no such file")
        return ImageSource(files, fps=fps, label=s)
    opts = dict(options or {})
    if kind == "lavfi":
        return AVSource(s[len("lavfi:"):], fmt="lavfi", options=opts, live=bool(live), retries=0, label=s)
    if kind == "camera":
        dev = s[len("v4l2:"):] if s.startswith("v4l2:") else s
        if not Path(dev).exists():
            raise SourceError(f"{dev}: no such camera device")
        return AVSource(dev, fmt="v4l2", options=opts, live=True if live is None else live, network=False,
                        retries=retries, backoff=backoff, timeout=timeout, label=dev)
    if kind == "network":
        sch = _scheme(s)
        if sch in ("rtsp", "rtsps"):
            opts.setdefault("rtsp_transport", "tcp")
            if "listen" in str(opts.get("rtsp_flags", "")):
                # receiving a push (we are the RTSP server); FFmpeg's default -1 fails with ERANGE
                opts.setdefault("listen_timeout", str(max(1, int(round(timeout)))))
        is_live = (sch in LIVE_SCHEMES) if live is None else live
        return AVSource(s, options=opts, live=is_live, network=True, retries=retries, backoff=backoff,
                        timeout=timeout, label=s)
    p = Path(s)
    if not p.exists():
        raise SourceError(f"{s}: no such file or folder")
    if not p.is_file():
        raise SourceError(f"{s}: not a regular file")
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        raise SourceError(f"{s}: permission denied") from None
    return AVSource(str(p), options=opts, live=bool(live), label=s)
