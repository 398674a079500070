"""A temporal student with and without lookahead on the video benchmark's clips (issue 26 item 1).

    python benchmarks/video_lookahead.py --model temporal-moderate=runs/video/temporal-moderate/temporal-student.safetensors

``Denoiser(model, lookahead=L)`` (runtime/temporal.py) delays each output by L frames and blends it
towards the next frames' outputs where the flow is exactly zero and the model kept its history. This
scores the same student at L = 0 (causal), 1, 2 and 4 on the EVAL clips of benchmarks/video.py
(static and motion sets, one noise level), next to the best FFmpeg rows of the last video.json (same
clips, same noise), PSNR / SSIM / flicker as video.py. The lookahead values were fixed before any
measurement (1 is the issue's; 2 and 4 span atadenoise's reach); nothing here is tuned on these clips.
Writes benchmarks/results/video-lookahead.json and BENCHMARKS.md's ``video-lookahead`` section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import video as B  # noqa: E402
import _video_clips as V  # noqa: E402
from _report import ROOT, provenance, write_section  # noqa: E402

AHEAD = (0, 1, 2, 4)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="NAME=ARTIFACT of a temporal student")
    ap.add_argument("--noise", default="moderate", choices=B.LEVELS)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--trained-by", default="", help="the command that trained the student (written in the section)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    from hushframe import Denoiser

    name, artifact = a.model.split("=", 1)
    sets = B.load_clips(False)
    tuned = json.loads((ROOT / "benchmarks" / "results" / "video.json").read_text())
    rows = []
    for cs, splits in sets.items():
        items = []
        for clip in splits["eval"]:
            gts, noisy = V.render(clip.frames, a.noise, f"{cs}/{clip.name}")
            items.append((clip, gts, noisy, V.backward_flows(gts, clip.static)))
        for k in AHEAD:
            per = []
            with Denoiser(artifact, backend=a.backend, threads=2, lookahead=k) as d:
                for clip, gts, noisy, flows in items:
                    per.append(V.clip_metrics(gts, list(d.run(noisy)), flows))
            m = V.mean_metrics(per)
            rows.append({"name": f"{name}, lookahead {k}", "lookahead": k, "clipset": cs, "noise": a.noise,
                         **{key: round(float(m[key]), 4) for key in ("psnr", "ssim", "flicker")}})
            print(f"{cs} {a.noise} lookahead {k}: {m['psnr']:.2f} dB  ssim {m['ssim']:.3f}  flicker {m['flicker']:.2f}",
                  flush=True)
        ff = [r for r in tuned["rows"] if r["clipset"] == cs and r["noise"] == a.noise and r["kind"] == "ffmpeg"]
        best = max(ff, key=lambda r: r["psnr"])
        rows.append({"name": best["name"], "filter": best.get("filter"), "clipset": cs, "noise": a.noise,
                     "from": "benchmarks/results/video.json",
                     **{key: best[key] for key in ("psnr", "ssim", "flicker")}})
    if a.no_write:
        return
    out = ROOT / "benchmarks" / "results" / "video-lookahead.json"
    out.write_text(json.dumps({"provenance": provenance("torch", "onnxruntime", "openvino"), "model": artifact,
                               "rows": rows}, indent=1) + "\n")
    lines = [*provenance("torch", "onnxruntime", "openvino"), "",
             f"EVAL clips of benchmarks/video.py, {a.noise} noise; `{name}` is `{artifact}`, a temporal student "
             "trained from noisy training clips only" + (f" by `{a.trained_by}`" if a.trained_by else "")
             + ", run as given (a .safetensors: fp32 PyTorch); the FFmpeg row is the best by PSNR in video.json (same clips and noise). "
             "PSNR dB / SSIM / flicker (as video.py).", "",
             "| clip set | row | PSNR | SSIM | flicker |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['clipset']} | {r['name']}{' (' + r['filter'] + ')' if r.get('filter') else ''} | "
                     f"{r['psnr']:.2f} | {r['ssim']:.3f} | {r['flicker']:.2f} |")
    write_section("video-lookahead", "Video: a temporal student with lookahead", "\n".join(lines))


if __name__ == "__main__":
    main()
