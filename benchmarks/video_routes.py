"""Which training route for the temporal student (issue 26 item 2): short runs, scored on the TUNING split.

    python benchmarks/video_routes.py                       # moderate noise, 5 min per route
    python benchmarks/video_routes.py --level low --minutes 5 --route n2n --route blend-nlm

Each route trains a temporal student with ``hushframe adapt --temporal`` on the same footage as
``video.py --reproduce`` (its ``write_training_clips``: noisy clips only, disjoint from both splits)
for the same few minutes, and is scored as fp32 ONNX on ``video.py``'s TUNING split (the eval split
stays for the benchmark itself), motion and static clips apart:

* ``n2n``: (b) frame-to-frame Noise2Noise alone;
* ``blend-nlm``: (b) blended half and half with (c) that level's tuned nlmeans labels (video.py's
  TRAIN_TEACHER strength at moderate noise; ``nlmeans=s=8`` at low light, its tuned best on moving clips);
* ``nlm``: (c) the nlmeans labels alone (``--teacher-weight 1``).

Route (a), a temporal blind-spot teacher, is not built. Short runs rank routes; the spread from one
run to the next was about 0.1 dB (two 6-minute runs of n2n in an exploratory probe: 39.22 and 39.32 dB
on the moving clips). Writes results/video-routes-LEVEL.json and the ``video-routes-LEVEL`` section.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _video_clips as V  # noqa: E402
import video as B  # noqa: E402
from _report import ROOT, SHARED, provenance, write_section  # noqa: E402

NLM = {"moderate": "ffmpeg:nlmeans=s=3", "low": "ffmpeg:nlmeans=s=8"}
ROUTES = {"n2n": None, "blend-nlm": 0.5, "nlm": 1.0}   # route -> the labels' weight (None: no teacher)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--level", default="moderate", choices=B.LEVELS)
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget per route")
    ap.add_argument("--route", action="append", choices=list(ROUTES), help="repeatable (default: all)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    if not (SHARED / "data" / "polyu-dev").is_dir():
        raise SystemExit("video_routes.py: ../shared/data/polyu-dev is absent (static scenes and training footage)")
    t0 = time.perf_counter()
    runs = ROOT / "runs" / "video" / "routes"
    data = B.write_training_clips(a.level, ROOT / "runs" / "video")
    sets = B.load_clips(False)
    tune = {cs: [(c, *V.render(c.frames, a.level, f"{cs}/{c.name}")) for c in splits["tune"]]
            for cs, splits in sets.items()}
    flows = {(cs, c.name): V.backward_flows(g, c.static) for cs, items in tune.items() for c, g, _ in items}
    rows = []
    for route in a.route or list(ROUTES):
        w = ROUTES[route]
        run = runs / f"{a.level}-{route}-{a.minutes:g}min"
        teach = [] if w is None else ["--teacher", NLM[a.level], "--teacher-weight", str(w)]
        if not (run / "temporal-student.safetensors").exists():
            subprocess.run(["hushframe", "adapt", str(data), "--temporal", "-o", str(run), "--minutes", str(a.minutes),
                            "--distill-steps", "100000", *teach], check=True)
        onnx = run / "temporal.onnx"
        if not onnx.exists():
            subprocess.run(["hushframe", "export", str(run / "temporal-student.safetensors"), "-o", str(onnx)], check=True)
        report = json.loads((run / "temporal-report.json").read_text())
        row = {"route": route, "teacher": None if w is None else NLM[a.level], "teacher_weight": w,
               "steps": report["steps"], "minutes": a.minutes, "level": a.level}
        from hushframe import Denoiser

        with Denoiser(onnx, threads=2) as d:
            for cs, items in tune.items():
                per = [V.clip_metrics(g, list(d.run(n)), flows[(cs, c.name)]) for c, g, n in items]
                m = V.mean_metrics(per)
                row[cs] = {"psnr": m["psnr"], "flicker": m["flicker"]}
        rows.append(row)
        print(f"{route}: {row['steps']} steps; " + ", ".join(f"{cs} {row[cs]['psnr']:.2f} dB / flicker "
                                                           f"{row[cs]['flicker']:.2f}" for cs in tune), flush=True)
    if a.no_write:
        return rows
    doc = {"provenance": provenance("numpy", "torch", "openvino", "onnxruntime",
                                    note=f"{(time.perf_counter() - t0) / 60:.0f} min wall for this run"),
           "rows": rows}
    out = ROOT / "benchmarks" / "results" / f"video-routes-{a.level}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    lines = [*doc["provenance"], "",
             f"Noise level {a.level}; each route trained {a.minutes:g} min on 2 cores (`hushframe adapt --temporal` on "
             "`video.py --reproduce`'s footage), scored as fp32 ONNX on video.py's TUNING split (motion: "
             + ", ".join(c.name for c, _, _ in tune.get("motion", [])) + "; static: "
             + ", ".join(c.name for c, _, _ in tune.get("static", [])) + "). PSNR dB / flicker (video.py's definition).", "",
             "| route | targets | steps | motion | static |", "| --- | --- | --- | --- | --- |"]
    what = {"n2n": "(b) frame-to-frame N2N", "blend-nlm": f"(b) 0.5 + (c) {NLM[a.level]} labels 0.5",
            "nlm": f"(c) {NLM[a.level]} labels alone"}
    for r in rows:
        cells = " | ".join(f"{r[cs]['psnr']:.2f} / {r[cs]['flicker']:.2f}" if cs in r else "-" for cs in ("motion", "static"))
        lines.append(f"| {r['route']} | {what[r['route']]} | {r['steps']} | {cells} |")
    lines += ["", "Route (a), a temporal blind-spot teacher, was not built. Short runs rank the routes; the spread "
              "from one short run to the next was about 0.1 dB in an exploratory probe (two runs of n2n)."]
    write_section(f"video-routes-{a.level}", f"Video: training routes for the temporal student, {a.level} noise "
                  "(issue 26 item 2)", "\n".join(lines))
    return rows


if __name__ == "__main__":
    main()
