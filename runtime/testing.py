"""Small test assets made on the fly (used by tests/ and the benchmarks).

Models are written by the real exporter and compiler (export/onnx_export.py, export/openvino_ir.py),
so the tests run exactly what `hushframe export` / `hushframe compile openvino` write; those two need
torch/onnx/openvino (the exporting side), everything else here is numpy + PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


def export_onnx(model, path, manifest: bool = True) -> Path:
    """An in-memory model through `hushframe export`'s exporter (graph, metadata, manifest, parity check).

    ``manifest=False`` removes the manifest afterwards (an .onnx the runtime must take as it is).
    """
    from hushframe.core.manifest import manifest_path
    from hushframe.export.onnx_export import export_module

    path = export_module(model.eval(), "temporal" if getattr(model, "temporal", False) else "student", path)
    if not manifest:
        manifest_path(path).unlink()
    return path


def tiny_student(seed: int = 0, width: int = 8):
    import torch

    from hushframe.core.models import create_model

    torch.manual_seed(seed)
    m = create_model("student_c", width=width).eval()
    # a near-identity denoiser: keeps outputs in range so tiling/parity numbers mean something
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(0.3)
    return m


def tiny_temporal(seed: int = 0, width: int = 8):
    """A tiny temporal student (models/temporal.py) with every weight random, its gate included, so
    the state matters in every output pixel (a fresh one starts with ``extra`` at zero)."""
    import torch

    from hushframe.core.models import create_model

    torch.manual_seed(seed)
    # the encoded noise model, as training writes it; a camera of ~8 levels of noise at mid grey
    m = create_model("temporal_cpu", width=width, gate_width=8, noise_model="encoded").eval()
    m.set_noise(3e-4, 2e-6, 2.2)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0.0, 0.05)
    return m


def export_openvino(onnx_path, xml_path) -> Path:
    """`hushframe compile openvino` (fp32, no latency check) of an exported ONNX."""
    from hushframe.export.openvino_ir import compile_openvino

    return compile_openvino(onnx_path, xml_path, "fp32", latency_check=False)


def smooth_frames(n: int, h: int, w: int, seed: int = 0, noise: float = 8.0) -> list[np.ndarray]:
    """Moving smooth gradients plus noise: natural enough for denoisers, distinct per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for i in range(n):
        base = np.stack([128 + 90 * np.sin((xx + 3 * i) / 17.0 + c) * np.cos((yy - 2 * i) / 23.0 - c)
                         for c in range(3)], -1)
        img = base + rng.normal(0, noise, base.shape)
        out.append(np.clip(np.rint(img), 0, 255).astype(np.uint8))
    return out


def write_clip(path, frames: list[np.ndarray], fps: int = 10, codec: str = "libx264", audio: bool = True,
               pix_fmt: str | None = None) -> Path:
    """A video file from uint8 frames (H.264/FFV1/MJPEG...), with a sine audio track by default."""
    import av

    path = Path(path)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = w, h
        vs.pix_fmt = pix_fmt or ("yuv420p" if codec in ("libx264", "mpeg4") else
                                 "yuvj420p" if codec == "mjpeg" else "bgr0")
        if codec == "libx264":
            vs.options = {"crf": "10", "preset": "ultrafast"}
        as_ = out.add_stream("aac", rate=48000) if audio else None
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            f.time_base = Fraction(1, fps)
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode(None):
            out.mux(p)
        if as_ is not None:
            sr, total = 48000, int(48000 * len(frames) / fps)
            t = np.arange(total, dtype=np.float32) / sr
            pcm = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for k in range(0, total, 1024):
                chunk = pcm[k:k + 1024]
                af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
                af.sample_rate = sr
                af.pts = k
                for p in as_.encode(af):
                    out.mux(p)
            for p in as_.encode(None):
                out.mux(p)
    return path


def read_clip(path) -> tuple[list[np.ndarray], list[int], dict]:
    """Decoded RGB frames, their pts, and per-stream packet counts."""
    import av

    with av.open(str(path)) as c:
        frames, pts = [], []
        for f in c.decode(video=0):
            frames.append(f.to_ndarray(format="rgb24"))
            pts.append(f.pts)
    with av.open(str(path)) as c:
        counts: dict = {}
        for p in c.demux():
            if p.size:
                counts[p.stream.type] = counts.get(p.stream.type, 0) + 1
    return frames, pts, counts


def write_pairs(folder, n: int = 3, h: int = 64, w: int = 96, seed: int = 0) -> Path:
    """PolyU-style NAME_real / NAME_mean PNG pairs."""
    from hushframe.core.images import write_image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = smooth_frames(n, h, w, seed=seed, noise=0.0)
    rng = np.random.default_rng(seed + 1)
    for i, c in enumerate(clean):
        noisy = np.clip(c + rng.normal(0, 10, c.shape), 0, 255).astype(np.uint8)
        write_image(folder / f"img{i:02d}_mean.png", c)
        write_image(folder / f"img{i:02d}_real.png", noisy)
    return folder


def blur_net():
    """A fixed, non-trivial 'denoiser' with a wide receptive field and zero-padded convs
    (edge effects at tile borders like a real UNet): 0.7 * gaussian blur + 0.3 * coarse (/8) path."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class BlurNet(nn.Module):
        size_multiple = 32
        arch = "blurnet"

        def __init__(self):
            super().__init__()
            g = torch.exp(-((torch.arange(7) - 3.0) ** 2) / (2 * 1.5 ** 2))
            k = (g[:, None] * g[None, :])
            k = (k / k.sum()).expand(3, 1, 7, 7).clone()
            self.blur = nn.Conv2d(3, 3, 7, padding=3, groups=3, bias=False)
            self.blur.weight.data.copy_(k)
            self.coarse = nn.Conv2d(3, 3, 3, padding=1, groups=3, bias=False)
            self.coarse.weight.data.fill_(1 / 9)

        def forward(self, x):
            c = self.coarse(F.avg_pool2d(x, 8))
            c = F.interpolate(c, scale_factor=8.0, mode="bilinear", align_corners=False)
            return 0.7 * self.blur(x) + 0.3 * c

    return BlurNet().eval()
