"""Noisy clips for temporal training: video files and frame folders -> sequences of uint8 RGB frames.

A clip is consecutive frames of one camera: a video file (every frame, up to ``max_frames``), or a
folder of images (sorted by name, one clip per folder; sub-folders are clips of their own). A clip
of one frame teaches nothing about time and is skipped with a warning; so is an unreadable file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


from .datasets import DataError
from hushframe.core.images import is_image, read_uint8

from .video import is_video, read_video_frames


@dataclass
class Clip:
    name: str
    frames: list                      # uint8 H x W x 3, consecutive


def load_clips(sources, *, max_frames: int = 300, warn=None) -> list[Clip]:
    warn = warn or (lambda m: None)
    clips: list[Clip] = []
    for src in map(Path, sources):
        if not src.exists():
            raise DataError(f"{src}: no such file or folder")
        for name, frames in _clips_in(src, max_frames, warn):
            shapes = {f.shape for f in frames}
            if len(shapes) > 1:
                warn(f"{name}: frames of {len(shapes)} sizes; keeping those of the first ({frames[0].shape[1]}x"
                     f"{frames[0].shape[0]})")
                frames = [f for f in frames if f.shape == frames[0].shape]
            if len(frames) < 2:
                warn(f"{name}: {len(frames)} frame(s): a clip needs consecutive frames; skipped")
                continue
            clips.append(Clip(name, frames))
    if not clips:
        raise DataError(f"{', '.join(map(str, sources))}: no clip of two or more consecutive frames found")
    return clips


def _clips_in(src: Path, max_frames: int, warn):
    if src.is_file():
        if not is_video(src):
            raise DataError(f"{src}: not a video file (give videos, or folders of consecutive frames)")
        try:
            yield str(src), read_video_frames(src, max_frames=max_frames)
        except Exception as e:  # noqa: BLE001 - one unreadable clip is skipped, named
            warn(f"{src}: skipped ({str(e).splitlines()[0][:160]})")
        return
    images = sorted(p for p in src.iterdir() if p.is_file() and is_image(p))
    if images:
        frames = []
        for p in images[:max_frames]:
            try:
                frames.append(read_uint8(p))
            except Exception as e:  # noqa: BLE001
                warn(f"{p}: skipped ({str(e).splitlines()[0][:160]})")
        yield str(src), frames
    for p in sorted(src.iterdir()):
        if p.is_dir() or (p.is_file() and is_video(p)):
            yield from _clips_in(p, max_frames, warn)


def frame_stats(clips: list[Clip]) -> dict:
    n = sum(len(c.frames) for c in clips)
    px = sum(c.frames[0].shape[0] * c.frames[0].shape[1] * len(c.frames) for c in clips)
    return {"clips": len(clips), "frames": n, "megapixels": round(px / 1e6, 1),
            "sizes": sorted({f"{c.frames[0].shape[1]}x{c.frames[0].shape[0]}" for c in clips})}


__all__ = ["Clip", "frame_stats", "load_clips"]
