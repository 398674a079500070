"""Camera adaptation on real pairs: students from `hushframe adapt` on polyu-dev.

    python benchmarks/adapt_quality.py --pairs ../shared/data/polyu-dev \
        --student before=.gpu/student.safetensors --student lr1e-4=OUT/student-lr1e-4.safetensors ... \
        --curves OUT/adapt-curves.txt --chosen lr1e-4 [--ffmpeg]

The first 20 pairs (sorted names) are the selection split: the adapt runs' learning curves
and keep-the-better decisions used them and nothing else. Every student is measured here on
all 60 pairs, on the selection split and on the other 40, which no setting ever saw. Writes
benchmarks/results/adapt.json, benchmarks/results/adapt_curves.png and the BENCHMARKS.md
section `adapt`. The weights themselves stay out of the repository (trained on PolyU photos).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, provenance, write_section  # noqa: E402

SPLIT = 20


def read_curves(path: Path) -> dict[str, list[tuple[int, float]]]:
    """{run: [(step, val_psnr)]} from the '== name' blocks of gpu_session.sh's adapt-curves.txt."""
    curves, name, block = {}, None, []

    def flush():
        if name and block:
            rows = [r for r in csv.DictReader(io.StringIO("".join(block))) if r.get("val_psnr")]
            if rows:
                curves[name] = [(int(r["step"]), float(r["val_psnr"])) for r in rows]

    for line in path.read_text().splitlines(keepends=True):
        if line.startswith("== "):
            flush()
            name, block = line[3:].strip(), []
        elif line.startswith("{") or line.startswith(" ") or line.startswith("}"):
            continue  # the JSON report after each CSV
        else:
            block.append(line)
    flush()
    return curves


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=Path, default=ROOT.parent / "shared" / "data" / "polyu-dev")
    ap.add_argument("--student", action="append", default=[], help="NAME=weights.safetensors")
    ap.add_argument("--curves", type=Path)
    ap.add_argument("--chosen", help="the run the selection split picked")
    ap.add_argument("--settings", default="", help="the settings line to record")
    ap.add_argument("--gpu", default="", help="the GPU the runs trained on")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    import torch

    from hushframe.core.pairs import find_pairs
    from hushframe.toolkit.eval.evaluate import evaluate, evaluate_noisy
    from hushframe.toolkit.weights import load_model

    torch.set_num_threads(2)
    pairs = find_pairs(a.pairs)
    rows = []
    noisy = evaluate_noisy(pairs)

    def split_means(res):
        ps = [r["psnr"] for r in res.per_image]
        ss = [r["ssim"] for r in res.per_image]
        return {"all": (float(np.mean(ps)), float(np.mean(ss))), "selection (first 20)": (float(np.mean(ps[:SPLIT])), float(np.mean(ss[:SPLIT]))),
                "held out (other 40)": (float(np.mean(ps[SPLIT:])), float(np.mean(ss[SPLIT:])))}

    rows.append(("noisy input", split_means(noisy)))
    for item in a.student:
        name, _, path = item.partition("=")
        res, _ = evaluate(load_model(path, "cpu"), pairs, "cpu", label=name)
        rows.append((name, split_means(res)))
        print(name, rows[-1][1], flush=True)
    out = {"pairs": len(pairs), "split": SPLIT, "chosen": a.chosen, "settings": a.settings, "gpu": a.gpu,
           "rows": [{"name": n, **{k: {"psnr": v[0], "ssim": v[1]} for k, v in m.items()}} for n, m in rows]}
    curves = read_curves(a.curves) if a.curves else {}
    out["curves"] = curves
    res_dir = ROOT / "benchmarks" / "results"
    if curves:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for n, c in curves.items():
            ax.plot([s for s, _ in c], [p for _, p in c], marker="o", label=n)
        ax.axhline(split_means(noisy)["selection (first 20)"][0], color="gray", ls=":", label="noisy input")
        ax.set_xlabel("step"); ax.set_ylabel("PSNR on the selection split (dB)")
        ax.set_title("hushframe adapt: learning curves (first 20 polyu-dev pairs)")
        ax.grid(alpha=.3); ax.legend(fontsize=8)
        fig.tight_layout()
        if not a.no_write:
            fig.savefig(res_dir / "adapt_curves.png", dpi=110)
    if a.no_write:
        print(json.dumps(out, indent=1))
        return
    (res_dir / "adapt.json").write_text(json.dumps(out, indent=1))
    lines = [*provenance("torch"),
             f"Trained on: {a.gpu or 'see the adapt runs'}. Settings: {a.settings}", "",
             "| model | all 60 pairs | selection split (first 20) | held out (other 40) |", "| --- | --- | --- | --- |"]
    for n, m in rows:
        mark = " (chosen on the selection split)" if n == a.chosen else ""
        lines.append(f"| {n}{mark} | " + " | ".join(f"{p:.2f} / {s:.4f}" for p, s in m.values()) + " |")
    lines += ["", "PSNR (dB) / SSIM. FFmpeg on the same 60 pairs (reference/anchors.md): nlmeans=s=3 37.84 / 0.9632, "
              "fftdnoiz=sigma=2 37.26 / 0.9485.", "", "![learning curves](benchmarks/results/adapt_curves.png)"]
    write_section("adapt", "Camera adaptation on real pairs (issue 11)", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
