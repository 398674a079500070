"""Stills through a temporal student (issue 26 item 5): a single frame, and a still repeated.

    python benchmarks/video_stills.py --model temporal-fast-moderate=runs/video/temporal-moderate/temporal-int8.xml \\
        --model temporal-fast-low=runs/video/temporal-low/temporal-int8.xml --model demo-student=runs/video/demo-student.onnx

On polyu-dev (all 60 real pairs, the anchors protocol: ``core.metrics`` PSNR/SSIM on uint8), each model
runs through the public API (``Denoiser.run``, one stream per image, as a camera would hand it over):

* ``single frame``: the still as a one-frame stream (a temporal model's first frame: no history);
* ``still x8``: the same noisy frame eight times. A repeat carries no new noise sample, so the runtime
  hands back the first output (runtime/temporal.py, ``repeats``); the row checks that the output is
  the single frame's, bit for bit.

The per-frame students of the stills frontier (cpu-fast, cpu-mid) are quoted from
``benchmarks/results/frontier.json`` (same pairs, same metrics; their weights come from
polyu-train-noisy and are not in the repository). A temporal student adapted to another camera's
noise (the video benchmark's simulator) is not PolyU's student: the comparison that isolates the
architecture is a temporal student against the per-frame student it would replace on the same camera.

Writes benchmarks/results/video-stills.json and the ``video-stills`` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, SHARED, provenance, write_section  # noqa: E402

REPEATS = 8
FIRST = 20   # the frontier's split: settings of the stills students were chosen on the first 20 pairs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", default=[], help="NAME=ARTIFACT, repeatable")
    ap.add_argument("--limit", type=int, default=None, help="first N pairs only (smoke)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    pairs_dir = SHARED / "data" / "polyu-dev"
    if not pairs_dir.is_dir():
        raise SystemExit(f"video_stills.py: {pairs_dir} is absent (the real pairs are ../shared's); nothing measured")
    from hushframe import Denoiser
    from hushframe.core.metrics import psnr, ssim
    from hushframe.core.pairs import find_pairs

    models = {}
    for spec in a.model:
        name, sep, path = spec.partition("=")
        if not sep or not Path(path).exists():
            raise SystemExit(f"video_stills.py: --model {spec!r}: expected NAME=ARTIFACT, an existing file")
        models[name] = Path(path)
    data = [p.load() for p in find_pairs(pairs_dir)[: a.limit or None]]
    t0 = time.perf_counter()
    rows = [dict(name="noisy input", mode="-", **_score([n for n, _ in data], data, psnr, ssim))]
    for name, art in models.items():
        with Denoiser(art, threads=2) as d:
            temporal = d.info.temporal
            single, repeated, same = [], [], True
            for noisy, _ in data:
                (y,) = list(d.run([noisy]))
                single.append(y)
                if temporal:
                    ys = list(d.run([noisy] * REPEATS))
                    repeated.append(ys[-1])
                    same &= all(np.array_equal(v, y) for v in ys)
            rows.append(dict(name=name, artifact=str(art), temporal=temporal, mode="single frame",
                             **_score(single, data, psnr, ssim)))
            if temporal:
                rows.append(dict(name=name, artifact=str(art), temporal=True, mode=f"still x{REPEATS}",
                                 equal_to_single=bool(same), **_score(repeated, data, psnr, ssim)))
        print(f"{name}: " + ", ".join(f"{r['mode']} {r['psnr']:.3f} dB" for r in rows if r["name"] == name), flush=True)
    quoted = _frontier()
    for r in rows + quoted:
        print(f"{r['name']:>28} {r['mode']:>13} {r['psnr']:.3f} / {r['ssim']:.4f}")
    if a.no_write:
        return
    doc = {"provenance": provenance("numpy", "openvino", "onnxruntime"), "pairs": len(data), "rows": rows,
           "quoted_from_frontier": quoted, "wall_s": round(time.perf_counter() - t0, 1)}
    (ROOT / "benchmarks" / "results" / "video-stills.json").write_text(json.dumps(doc, indent=1) + "\n")
    mid = next((q for q in quoted if q["name"] == "cpu-mid"), None)
    lines = [*provenance("numpy", "openvino", "onnxruntime"), "",
             f"polyu-dev, {len(data)} real pairs (anchors protocol). Temporal students as a one-frame stream and as "
             f"the same noisy frame {REPEATS} times (the runtime recognises a repeat: no new noise sample, the first "
             "output again). cpu-fast / cpu-mid quoted from `benchmarks/results/frontier.json` (same pairs and "
             "metrics; trained on polyu-train-noisy).", "",
             "| model | mode | PSNR | SSIM | first 20 | other 40 | vs cpu-mid |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows + quoted:
        d = f"{r['psnr'] - mid['psnr']:+.3f}" if mid else "-"
        same = " (= single frame)" if r.get("equal_to_single") else ""
        lines.append(f"| {r['name']} | {r['mode']}{same} | {r['psnr']:.3f} | {r['ssim']:.4f} | "
                     f"{r['psnr_first20']:.3f} | {r['psnr_other40'] if r['psnr_other40'] is None else round(r['psnr_other40'], 3)} | {d} |")
    lines += ["", "Reading: a temporal student's first frame is its refiner, a per-frame CPU student, exactly "
              "(tests/test_temporal_model.py), and a repeated still adds nothing (the rows above). Which per-frame "
              "student that is depends on the camera it adapted to: students adapted to the video benchmark's "
              "simulated camera are compared here with students distilled for PolyU's cameras, so the gap to cpu-mid "
              "measures the change of camera, not the temporal structure. Item 5 as the issue states it (within 0.1 dB "
              "of cpu-mid) needs a temporal student adapted to PolyU's cameras, which needs their video: none is here."]
    write_section("video-stills", "Video: stills through the temporal students (issue 26 item 5)", "\n".join(lines))


def _score(outs, data, psnr, ssim) -> dict:
    ps = [psnr(clean, o) for o, (_, clean) in zip(outs, data)]
    ss = [ssim(clean, o) for o, (_, clean) in zip(outs, data)]
    return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss)), "psnr_first20": float(np.mean(ps[:FIRST])),
            "psnr_other40": float(np.mean(ps[FIRST:])) if len(ps) > FIRST else None}


def _frontier() -> list[dict]:
    path = ROOT / "benchmarks" / "results" / "frontier.json"
    if not path.exists():
        return []
    keep = {"cpu-fast", "cpu-mid", "FFmpeg nlmeans=s=3"}
    return [{"name": r["name"], "mode": "per-frame (frontier.json)", "psnr": r["psnr"], "ssim": r["ssim"],
             "psnr_first20": r.get("psnr_first20", float("nan")), "psnr_other40": r.get("psnr_other40")}
            for r in json.loads(path.read_text()) if r["name"] in keep]


if __name__ == "__main__":
    main()
