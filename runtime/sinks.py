"""Encoding: a video file (H.264 or lossless FFV1, audio passed through), an image folder, or nothing.

Every sink is a context manager; ``close()`` always finalizes what was written (the
container trailer on Ctrl-C or after an error), so a stopped run leaves a playable file.
Write failures (permission, disk full) raise :class:`SinkError` with the path and reason.
"""

from __future__ import annotations

import errno
import os
from fractions import Fraction
from pathlib import Path


from hushframe.core.contract import IMAGE_EXTS, VIDEO_EXTS, is_image_name
from hushframe.core.errors import OutputPathError
from hushframe.core.images import write_image  # numpy + Pillow only

from .errors import SinkError
from .frames import Frame

CODECS = {"h264": "libx264", "ffv1": "ffv1"}
FFV1_CONTAINERS = {".mkv", ".avi", ".nut", ".mov"}


def _oserr(path, e: BaseException) -> str:
    en = getattr(e, "errno", None)
    if en == errno.ENOSPC:
        return f"{path}: disk full"
    if en in (errno.EACCES, errno.EPERM):
        return f"{path}: permission denied"
    msg = getattr(e, "strerror", None) or str(e)
    return f"{path}: cannot write ({str(msg).splitlines()[0][:160]})"


class Sink:
    kind = "sink"

    def __init__(self):
        self.written = 0
        self.warnings: list[str] = []

    def open(self, first: Frame, audio_stream=None):
        pass

    def write(self, frame: Frame, audio_packets=None):
        raise NotImplementedError

    def close(self, audio_packets=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class NullSink(Sink):
    kind = "none"

    def write(self, frame, audio_packets=None):
        self.written += 1
        if audio_packets is not None:
            audio_packets.clear()


class ImageFolderSink(Sink):
    """One PNG per frame (``frame_000000.png``, or the source image's name), each written atomically."""

    kind = "images"

    def __init__(self, folder: str | Path, ext: str = ".png"):
        super().__init__()
        self.folder = Path(folder)
        self.ext = ext
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SinkError(_oserr(self.folder, e)) from None
        if not os.access(self.folder, os.W_OK):
            raise SinkError(f"{self.folder}: permission denied")

    def write(self, frame, audio_packets=None):
        name = (frame.name or f"frame_{frame.index:06d}") + self.ext
        try:
            write_image(self.folder / name, frame.image)
        except OutputPathError as e:
            raise SinkError(str(e)) from None
        except OSError as e:
            raise SinkError(_oserr(self.folder / name, e)) from None
        self.written += 1
        if audio_packets is not None:
            audio_packets.clear()


class ImageFileSink(Sink):
    """A single-image source written to the file name given (``-o single.png``), atomically."""

    kind = "image"

    def __init__(self, path: str | Path):
        super().__init__()
        self.path = Path(path)

    def write(self, frame, audio_packets=None):
        if self.written:
            raise SinkError(f"{self.path}: an image file takes one frame; give a folder for several")
        try:
            write_image(self.path, frame.image)
        except OutputPathError as e:
            raise SinkError(str(e)) from None
        except OSError as e:
            raise SinkError(_oserr(self.path, e)) from None
        self.written += 1
        if audio_packets is not None:
            audio_packets.clear()


class VideoSink(Sink):
    """H.264 (libx264, yuv420p, CRF) or FFV1 (lossless RGB) in any FFmpeg container.

    Video timestamps are the source's (pts and time base), so frame timing, gaps from
    dropped live frames and variable frame rate survive. Audio packets are remuxed as they
    are, interleaved by time.

    ``flush_interval`` (seconds, 0 = off) bounds what a kill (SIGKILL, power loss) can lose:
    every packet the muxer emits is written to the file at once (``flush_packets``), Matroska
    closes a cluster every ``flush_interval`` seconds of video and MP4/MOV is written as
    fragmented MP4 with a fragment every ``flush_interval`` seconds, so everything up to the
    last closed cluster/fragment is on disk and plays. Those are seconds of the video's own clock:
    they are wall-clock seconds only for a ``realtime`` (live) source. A file is denoised at the
    engine's pace (a 1080p student on a CPU: a few frames a second of a 25 fps clip), so without
    ``realtime`` every frame gets its own cluster/fragment (tens of bytes each). ``low_latency``
    makes libx264 emit each frame at once (no lookahead, no B-frames), so the encoder holds nothing.
    Together: after a kill, every frame handed to the sink more than about
    ``2 * flush_interval`` seconds earlier is in the file (tests/test_newcomer.py kills live and
    file sources at several points).

    Without flushing the file is written under a temporary name beside the output
    (``.NAME.partial-XXXX.EXT``) and renamed onto it when complete: a plain MP4 has its index at
    the end and is unplayable if cut, so a kill leaves no broken file under the output's name (an
    earlier output replaced with --overwrite stays until then).
    """

    kind = "video"

    def __init__(self, path: str | Path, codec: str = "h264", crf: int = 18, preset: str = "veryfast",
                 threads: int = 0, fmt: str | None = None, flush_interval: float = 0.0, low_latency: bool = False,
                 realtime: bool = True):
        super().__init__()
        self.path = Path(path)
        if codec not in CODECS:
            raise SinkError(f"{path}: unknown codec '{codec}' (use h264 or ffv1)")
        if codec == "ffv1" and fmt is None and self.path.suffix.lower() not in FFV1_CONTAINERS:
            raise SinkError(f"{path}: FFV1 needs a .mkv, .avi, .mov or .nut container")
        self.codec, self.crf, self.preset, self.threads, self.fmt = codec, crf, preset, threads, fmt
        self.flush_interval, self.low_latency = max(0.0, float(flush_interval or 0.0)), bool(low_latency)
        self.realtime = bool(realtime)
        self._tmp: Path | None = None   # the temporary name of an unflushed output, renamed at close
        parent = self.path.parent if str(self.path.parent) else Path(".")
        if not parent.is_dir():
            raise SinkError(f"{path}: output folder {parent} does not exist")
        if self.path.is_dir():
            raise SinkError(f"{path}: is a folder; give a file name, or an image folder without a video extension")
        self.container = None
        self.stream = None
        self.audio_out = None
        self._last_pts = None
        self.retimed = 0
        self._closed = False
        self._av = None

    def open(self, first: Frame, audio_stream=None):
        import av

        self._av = av
        try:
            target = self.path
            if str(self.path).startswith("/dev/"):
                pass   # a device node or pipe: written as it is
            elif not self.flush_interval:
                target = self._tmp = self._temp_name()
            elif self.path.is_symlink():
                # never write through a planted link to a file outside the output folder: replace the link
                # itself, as core/atomic.py does for every other output
                self.path.unlink()
            self.container = av.open(str(target), mode="w", format=self.fmt, options=self._container_options())
        except (av.FFmpegError, OSError) as e:
            raise SinkError(_oserr(self.path, e)) from None
        h, w = first.image.shape[:2]
        tb = first.time_base or Fraction(1, 25)
        rate = Fraction(1, 1) / tb if tb.numerator == 1 and tb.denominator <= 240 else None
        try:
            s = self.container.add_stream(CODECS[self.codec], rate=rate or 25)
            s.width, s.height = w, h
            s.time_base = tb
            s.codec_context.time_base = tb    # encode in the source's clock: no rounding to a frame grid
            if self.codec == "h264":
                s.pix_fmt = "yuv420p" if h % 2 == 0 and w % 2 == 0 else "yuv444p"
                s.options = {"crf": str(self.crf), "preset": self.preset}
                if self.low_latency:
                    s.options["tune"] = "zerolatency"   # no lookahead, no B-frames: nothing held in the encoder
            else:
                s.pix_fmt = "bgr0"  # lossless for RGB input
                s.options = {"level": "3", "slicecrc": "1"}
            if self.threads:
                s.codec_context.thread_count = self.threads
            self.stream = s
            if audio_stream is not None:
                try:
                    self.audio_out = self.container.add_stream_from_template(audio_stream)
                except Exception as e:  # the container may not take this audio codec
                    self.warnings.append(f"audio not passed through ({audio_stream.codec_context.name} "
                                         f"in {self.path.suffix}: {e})")
                    self.audio_out = None
        except (av.FFmpegError, ValueError) as e:
            self._abandon()
            raise SinkError(f"{self.path}: cannot set up the {self.codec} encoder ({e})") from None

    def _temp_name(self) -> Path:
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.partial-", suffix=self.path.suffix,
                                   dir=self.path.parent if str(self.path.parent) else ".")
        os.close(fd)
        return Path(tmp)

    def _container_options(self) -> dict:
        if not self.flush_interval:
            return {}
        fmt = self.fmt or flush_format(self.path)
        # flush_packets: every packet reaches the file at once. max_interleave_delta: libavformat holds
        # a video packet until every other stream (the source's audio) has one as late, up to 10 s of
        # the clip by default; audio is read as the video is decoded, so a slow engine kept ~10 s of
        # video in that queue, out of the file (1 us: each packet goes out as it comes, still in order
        # within its stream, which is all Matroska and MP4 need).
        opts = {"flush_packets": "1", "max_interleave_delta": "1"}
        # seconds of the video's clock: the interval for a live source, one frame for a file (see above)
        seconds = self.flush_interval if self.realtime else 0.0
        if fmt in ("matroska", "webm"):
            opts["cluster_time_limit"] = str(int(seconds * 1000))
        elif fmt in ("mp4", "mov"):
            opts["movflags"] = "empty_moov+default_base_moof"
            opts["frag_duration"] = str(max(1, int(seconds * 1_000_000)))
        return opts

    def _mux_audio(self, audio_packets, until: float | None):
        if audio_packets is None:
            return
        while audio_packets:
            pkt = audio_packets[0]
            t = float(pkt.dts * pkt.time_base) if pkt.dts is not None and pkt.time_base else None
            if until is not None and t is not None and t > until:
                break
            audio_packets.popleft()
            if self.audio_out is None:
                continue
            pkt.stream = self.audio_out
            self.container.mux(pkt)

    def write(self, frame: Frame, audio_packets=None):
        av = self._av  # bound once in open(): this runs per frame
        if self.container is None:
            raise SinkError(f"{self.path}: sink not opened")
        img = frame.image
        if (img.shape[0], img.shape[1]) != (self.stream.height, self.stream.width):
            raise SinkError(f"{self.path}: frame size changed mid-stream ({img.shape[1]}x{img.shape[0]} after "
                            f"{self.stream.width}x{self.stream.height}); write to an image folder instead")
        vf = av.VideoFrame.from_ndarray(img, format="rgb24")
        pts = frame.pts if frame.pts is not None else frame.index
        if frame.time_base is not None and frame.time_base != self.stream.time_base:
            pts = int(round(pts * frame.time_base / self.stream.time_base))
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
            self.retimed += 1
        self._last_pts = pts
        vf.pts = pts
        vf.time_base = self.stream.time_base
        try:
            self._mux_audio(audio_packets, frame.time)
            for pkt in self.stream.encode(vf):
                self.container.mux(pkt)
        except (av.FFmpegError, OSError) as e:
            raise SinkError(_oserr(self.path, e)) from None
        self.written += 1

    def close(self, audio_packets=None):
        import av

        if self._closed or self.container is None:
            self._closed = True
            return
        self._closed = True
        err = None
        try:
            self._mux_audio(audio_packets, None)
            for pkt in self.stream.encode(None):
                self.container.mux(pkt)
        except (av.FFmpegError, OSError) as e:
            err = e
        try:
            self.container.close()
        except (av.FFmpegError, OSError) as e:
            err = err or e
        self.container = None
        if err is None and self._tmp is not None:
            try:
                self._publish()
            except OSError as e:
                err = e
        if err is not None:
            self._drop_tmp()
            raise SinkError(_oserr(self.path, err)) from None

    def _publish(self):
        """The complete temporary file becomes the output (fsynced; permissions as a plain open() gives)."""
        with open(self._tmp, "rb+") as f:
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self._tmp, 0o666 & ~umask)
        os.replace(self._tmp, self.path)
        self._tmp = None
        try:
            fd = os.open(self.path.parent if str(self.path.parent) else ".", os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass

    def _drop_tmp(self):
        if self._tmp is not None:
            try:
                self._tmp.unlink()
            except OSError:
                pass
            self._tmp = None

    def _abandon(self):
        try:
            self.container.close()
        except Exception:
            pass
        self.container = None
        self._drop_tmp()


def flush_format(path) -> str:
    """The container a video output is flushed in ('' where flushing does nothing for it)."""
    return {".mkv": "matroska", ".webm": "webm", ".mp4": "mp4", ".m4v": "mp4",
            ".mov": "mov"}.get(Path(path).suffix.lower(), "")


def default_flush_interval(output, live: bool) -> float:
    """1 s for a live source, and for a file source written to Matroska (.mkv/.webm: it plays however it
    was cut); 0 for other file outputs: a plain .mp4 (written under a temporary name, renamed when
    complete), unless the user asks for fragments with --flush-interval."""
    if live:
        return 1.0
    return 1.0 if output is not None and flush_format(output) in ("matroska", "webm") else 0.0


def open_sink(output: str | Path | None, *, codec: str = "h264", crf: int = 18, preset: str = "veryfast",
              threads: int = 0, overwrite: bool = False, single_image: bool = False, flush_interval: float = 0.0,
              low_latency: bool = False, realtime: bool = True) -> Sink:
    """OUT: None/'-'/'none' -> nothing; a name with a video extension -> video file; a name with an image
    extension and a single-image source -> that file; else an image folder.

    An existing output is refused unless ``overwrite`` (as FFmpeg's ``-y``); checked here, before any work.
    """
    from hushframe.core.atomic import check_new_output as _check
    def check_new_output(path, overwrite, folder=False):
        try:
            _check(path, overwrite, folder=folder)
        except OutputPathError as e:       # exit 4, as every other output problem of `stream`
            raise SinkError(str(e)) from None

    if output is None or str(output) in ("", "-", "none", "null"):
        return NullSink()
    p = Path(output)
    if str(p).startswith("/dev/") and p.exists() and not p.is_dir():
        # a device node (/dev/null, a pipe, /dev/full in tests): Matroska streams to it
        return VideoSink(p, codec=codec, crf=crf, preset=preset, threads=threads, fmt="matroska",
                         flush_interval=flush_interval, low_latency=low_latency, realtime=realtime)
    if p.suffix.lower() in VIDEO_EXTS:
        if p.is_dir():
            raise SinkError(f"{p}: is a folder; give a file name, or an image folder without a video extension")
        check_new_output(p, overwrite)
        return VideoSink(p, codec=codec, crf=crf, preset=preset, threads=threads, flush_interval=flush_interval,
                         low_latency=low_latency, realtime=realtime)
    if is_image_name(p) and not p.is_dir():
        if not single_image:
            raise SinkError(f"{p}: an image file name takes a single-image source; give a folder name (no "
                            f"extension) for several frames, or a video name ({', '.join(sorted(VIDEO_EXTS))})")
        check_new_output(p, overwrite)
        return ImageFileSink(p)
    if p.exists() and not p.is_dir():
        raise SinkError(f"{p}: exists and is not a folder (video outputs need one of {', '.join(sorted(VIDEO_EXTS))})")
    if p.suffix and not p.is_dir() and not str(output).endswith(("/", os.sep)):
        # `-o out.xyz` used to become a folder out.xyz/ without a word (issue 27)
        raise SinkError(f"{p}: unknown output extension '{p.suffix}'; a video needs one of "
                        f"{', '.join(sorted(VIDEO_EXTS))}, a single image one of {', '.join(sorted(IMAGE_EXTS))}; "
                        f"an image folder is a name without an extension (or ending in /)")
    check_new_output(p, overwrite, folder=True)
    return ImageFolderSink(p)
