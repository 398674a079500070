"""Issue 7 item 2: speed-quality frontier on the CPU, students against FFmpeg's denoisers.

    python benchmarks/frontier.py --pairs ../shared/data/polyu-dev \
        --model "student C fp32=student.xml" --model "student C int8=student-int8.xml" \
        [--filter fftdnoiz=sigma=2 --filter nlmeans=s=3 ...] [--size 1080x1920] [--limit N]

For every model artifact (any runtime backend: .xml, .onnx, .engine, .safetensors) and every
FFmpeg filter (libavfilter through PyAV) it measures, in this one run, PSNR/SSIM on the paired
set and CPU time per frame at the given size; writes a table and a PNG plot of PSNR against
ms/frame (``frontier.png``) and the 'frontier' section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, command_line, git_rev, machine, versions, write_section  # noqa: E402

PIX_FMT = "gbrp"  # planar RGB: the filter sees the image itself, no colour conversion
DEFAULT_FILTERS = ["fftdnoiz=sigma=2", "fftdnoiz", "dctdnoiz=sigma=4", "nlmeans=s=3"]


def ffmpeg_filter(img: np.ndarray, spec: str) -> np.ndarray:
    """Run one RGB frame through an FFmpeg filter (yuv444p, as a video engineer would)."""
    import av

    h, w = img.shape[:2]
    g = av.filter.Graph()
    src = g.add_buffer(width=w, height=h, format=PIX_FMT, time_base="1/25")
    name, _, args = spec.partition("=")
    f = g.add(name, args or None)
    sink = g.add("buffersink")
    src.link_to(f)
    f.link_to(sink)
    g.configure()
    frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format=PIX_FMT)
    frame.pts = 0
    g.push(frame)
    g.push(None)
    out = g.pull()
    return out.to_ndarray(format="rgb24")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--model", action="append", default=[], help="LABEL=ARTIFACT")
    ap.add_argument("--filter", action="append", default=None)
    ap.add_argument("--size", default="1080x1920")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--plot", default=str(ROOT / "benchmarks" / "frontier.png"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()

    from hushframe.runtime.backends.base import open_backend
    from hushframe.runtime.frames import denoise_image
    from hushframe.toolkit.data.pairs import find_pairs
    from hushframe.toolkit.eval.metrics import psnr, ssim

    pairs = find_pairs(a.pairs)[: a.limit or None]
    data = [p.load() for p in pairs]
    h, w = map(int, a.size.split("x"))
    big = np.ascontiguousarray(np.resize(data[0][0], (h, w, 3)))  # a full-size frame for timing
    rows = []

    def score(fn):
        outs = [fn(n) for n, _ in data]
        return (float(np.mean([psnr(c, o) for (_, c), o in zip(data, outs)])),
                float(np.mean([ssim(c, o) for (_, c), o in zip(data, outs)])))

    def timing(fn):
        fn(big)
        ts = []
        for _ in range(a.repeats):
            t = time.perf_counter(); fn(big); ts.append(time.perf_counter() - t)
        return statistics.median(ts) * 1000

    rows.append(("noisy input", *score(lambda n: n), 0.0, "none"))
    for spec in a.model:
        label, _, path = spec.partition("=")
        with open_backend(path) as be:
            fn = lambda img, be=be: denoise_image(be, img)
            p, s = score(fn)
            rows.append((label, p, s, timing(fn), be.info.describe() if hasattr(be.info, "describe") else str(be.info)))
        print(rows[-1], flush=True)
    for spec in (a.filter if a.filter is not None else DEFAULT_FILTERS):
        fn = lambda img, spec=spec: ffmpeg_filter(img, spec)
        p, s = score(fn)
        rows.append((f"FFmpeg {spec}", p, s, timing(fn), "libavfilter"))
        print(rows[-1], flush=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, p, s, ms, _ in rows[1:]:
        ax.scatter(ms, p, marker="o" if not label.startswith("FFmpeg") else "s")
        ax.annotate(label, (ms, p), fontsize=7, xytext=(4, 2), textcoords="offset points")
    ax.axhline(rows[0][1], color="gray", ls="--", lw=0.8, label="noisy input")
    ax.set_xscale("log")
    ax.set_xlabel(f"CPU ms per {w}x{h} frame (log)")
    ax.set_ylabel("PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(a.plot)
    lines = ["| what | PSNR (dB) | SSIM | ms per frame | engine |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| {l} | {p:.3f} | {s:.4f} | {ms:.0f} | {e} |" for l, p, s, ms, e in rows]
    body = "\n".join([f"Command: `{command_line()}` (commit {git_rev()})", f"Machine: {machine()}",
                      f"Versions: {versions('openvino', 'onnxruntime', 'av', 'numpy')}",
                      f"Quality on {len(data)} pairs of `{a.pairs}`; time per {w}x{h} frame, median of {a.repeats}.", "",
                      *lines, "", f"Plot: `{Path(a.plot).relative_to(ROOT) if Path(a.plot).is_relative_to(ROOT) else a.plot}`"])
    print(body)
    if not a.no_write:
        write_section("frontier", "Speed-quality frontier on the CPU (issue 7)", body)


if __name__ == "__main__":
    main()
