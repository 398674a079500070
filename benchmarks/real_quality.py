"""Train on real noisy photos (no ground truth) and compare with the anchors.

    python benchmarks/real_quality.py --train ../shared/data/polyu-train-noisy --pairs ../shared/data/polyu-dev \
        --run runs/polyu [--teacher-iters 100000 --distill-iters 50000] [--device cuda]

Steps (each skipped when its output exists, each training step resumable, so re-running
the same command after an interruption continues where it stopped):

1. teacher (AT-BSN, self-supervised at k_a = 9) on the noisy photos;
2. teacher k_b sweep on the paired set (table + PNG);
3. students A, B, C by multi-teacher distillation, and C by mean-teacher distillation;
4. evaluation of every student; a table against the anchors (FFmpeg nlmeans=s=3 and the
   published SIDD student) goes into BENCHMARKS.md.

Weights trained here derive from the PolyU data: keep them out of the repository.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_section  # noqa: E402

ANCHORS = {"FFmpeg nlmeans=s=3": (37.838, 0.9632), "published SIDD student C": (36.305, 0.9437), "noisy input": (36.179, 0.9187)}


def hf(*args):
    cmd = [sys.executable, "-m", "hushframe.toolkit.cli", *map(str, args)]
    print("$ hushframe " + " ".join(map(str, args)), flush=True)
    subprocess.run(cmd, check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--run", default="runs/real-quality")
    ap.add_argument("--teacher-iters", type=int, default=100_000)
    ap.add_argument("--distill-iters", type=int, default=50_000)
    ap.add_argument("--width", type=int, default=48)
    ap.add_argument("--teacher-crop", type=int, default=256)
    ap.add_argument("--distill-crop", type=int, default=128)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--students", default="student_a,student_b,student_c")
    ap.add_argument("--sweep", default="0,1,3,5,7,9,11")
    ap.add_argument("--limit", type=int, default=None, help="evaluate on the first N pairs only (smoke runs)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    run = Path(a.run)
    run.mkdir(parents=True, exist_ok=True)
    lim = ["--limit", a.limit] if a.limit else []
    common = ["--device", a.device, "--batch", a.batch]

    teacher = run / "teacher" / "teacher.safetensors"
    if not teacher.exists():
        resume = ["--resume"] if (run / "teacher" / "checkpoints").exists() else []
        hf("train", a.train, "-o", run / "teacher", "--recipe", "atbsn-sidd", "--iterations", a.teacher_iters,
           "--crop", a.teacher_crop, "--width", a.width, "--set", "teacher.checkpoint_every=1000", *common, *resume)
    if not (run / "sweep" / "results.json").exists():
        hf("eval", teacher, "--pairs", a.pairs, "--sweep", a.sweep, "-o", run / "sweep", *lim, "--device", a.device)

    variants = [(s, "multi") for s in a.students.split(",")] + [("student_c", "mean")]
    rows = []
    for student, mode in variants:
        d = run / f"{student}-{mode}"
        w = d / "student.safetensors"
        if not w.exists():
            resume = ["--resume"] if (d / "checkpoints").exists() else []
            hf("distill", a.train, "-t", teacher, "-o", d, "--recipe", "atbsn-sidd", "--student", student, "--mode", mode,
               "--iterations", a.distill_iters, "--crop", a.distill_crop, "--width", a.width,
               "--set", "distill.checkpoint_every=1000", *common, *resume)
        if not (d / "eval" / "results.json").exists():
            hf("eval", w, "--pairs", a.pairs, "-o", d / "eval", *lim, "--device", a.device)
        res = json.loads((d / "eval" / "results.json").read_text())["model"]
        rows.append((f"{student} ({mode}-teacher)", res["psnr"], res["ssim"]))
    sweep = json.loads((run / "sweep" / "results.json").read_text())

    lines = ["| what | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
    for name, (p, s) in ANCHORS.items():
        lines.append(f"| {name} (anchor) | {p:.3f} | {s:.4f} |")
    for r in sweep["sweep"]:
        lines.append(f"| {r['label']} | {r['psnr']:.3f} | {r['ssim']:.4f} |")
    for name, p, s in rows:
        lines.append(f"| {name} | {p:.3f} | {s:.4f} |")
    body = "\n".join([*provenance("torch"),
                      f"Budget: teacher {a.teacher_iters} iterations (crop {a.teacher_crop}, batch {a.batch}), "
                      f"distillation {a.distill_iters} iterations (crop {a.distill_crop}); width {a.width}.", "", *lines])
    print(body)
    if not a.no_write:
        write_section("real-quality", "Real-data quality on polyu-dev (issue 7)", body)


if __name__ == "__main__":
    main()
