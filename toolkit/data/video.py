"""Frames of video files as uint8 RGB arrays (PyAV), for training and calibration."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hushframe.core.contract import VIDEO_EXTS


def is_video(path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTS


def read_video_frames(path, every: int = 1, max_frames: int | None = None) -> list[np.ndarray]:
    """Decode every ``every``-th frame; corrupt packets are skipped, not fatal; a container that breaks
    while demuxing ends the video there (or is one error naming the file, if nothing decoded yet)."""
    import av

    from hushframe.core.images import ImageError

    frames: list[np.ndarray] = []
    try:
        container = av.open(str(path))
    except Exception as e:
        raise ImageError(f"{path}: cannot open video ({e.__class__.__name__}: {str(e)[:100]})") from None
    with container:
        if not container.streams.video:
            raise ImageError(f"{path}: no video stream")
        stream = container.streams.video[0]
        i = 0
        packets = container.demux(stream)
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except av.error.FFmpegError as e:  # e.g. a sample table claiming gigabytes: ENOMEM from the demuxer
                if frames:
                    break
                raise ImageError(f"{path}: cannot read video ({e.__class__.__name__}: {str(e)[:100]})") from None
            try:
                decoded = packet.decode()
            except Exception:  # av.error.InvalidDataError and friends: skip the packet
                continue
            for frame in decoded:
                if i % every == 0:
                    frames.append(frame.to_ndarray(format="rgb24"))
                    if max_frames and len(frames) >= max_frames:
                        return frames
                i += 1
    if not frames:
        raise ImageError(f"{path}: no decodable frames")
    return frames
