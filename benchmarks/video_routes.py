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
* ``nlm``: (c) the nlmeans labels alone (``--teacher-weight 1``);
* ``tbsn``: (a) the temporal AT-BSN teacher's labels alone (training/temporal_teacher.py: trained
  ``--teacher-minutes`` on the same noisy footage, its inference blind spot chosen on the tuning split
  by the teacher's own PSNR, then every training frame labelled into a ``labels:DIR`` folder);
* ``blend-tbsn``: (b) blended half and half with (a)'s labels.

``--steps N`` trains every student N steps instead of ``--minutes`` (a fair comparison on a machine
shared with other work; each row reports its minutes). Short runs rank routes; the spread from one
run to the next was about 0.1 dB (two 6-minute runs of n2n in an exploratory probe: 39.22 and 39.32 dB
on the moving clips). Writes results/video-routes-LEVEL[-TAG].json and the ``video-routes-LEVEL[-TAG]`` section.

Route (a)'s evaluation (BENCHMARKS.md "video-routes-moderate-a", 43 min for the first four rows and the
teacher, 22 more for the last):

    python benchmarks/video_routes.py --steps 1200 --tag a --route tbsn --route blend-tbsn --route n2n \
        --route blend-nlm --route n2n@4200
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
from hushframe.toolkit.training.temporal_teacher import TeacherConfig  # noqa: E402
import video as B  # noqa: E402
from _report import ROOT, SHARED, provenance, write_section  # noqa: E402

NLM = {"moderate": "ffmpeg:nlmeans=s=3", "low": "ffmpeg:nlmeans=s=8"}
ROUTES = {"n2n": None, "blend-nlm": 0.5, "nlm": 1.0, "tbsn": 1.0, "blend-tbsn": 0.5}   # route -> the labels' weight
KS = (1, 3, 5, 7)   # the temporal teacher's inference blind spots tried on the tuning split


def temporal_teacher_labels(level: str, data: Path, tune: dict, run: Path, minutes: float) -> dict:
    """Route (a): train the temporal AT-BSN teacher on the noisy footage, choose its inference blind spot on
    the TUNING split (its own PSNR), label every training frame. Returns the teacher's row (labels folder in
    it); a finished folder is reused."""
    from hushframe.core.metrics import psnr
    from hushframe.toolkit.data.video_clips import load_clips as load_footage
    from hushframe.toolkit.training import temporal_teacher as TT
    from hushframe.toolkit.weights import load_model

    done = run / "teacher-row.json"
    if done.exists():
        return {**json.loads(done.read_text()), "reused": True}
    t0 = time.perf_counter()
    clips = [(np.stack(c.frames), TT.neighbour_stack(c.frames)) for c in load_footage([data])]
    prep = time.perf_counter() - t0
    path, summary = TT.train_teacher(clips, run, TT.TeacherConfig(minutes=minutes, threads=2))
    model = load_model(path).eval()
    scores = {cs: {k: [] for k in KS} for cs in tune}
    for cs, items in tune.items():
        for _, g, n in items:
            outs = TT.label_clip(model, np.stack(n), TT.neighbour_stack(n), KS)
            for k, o in zip(KS, outs):
                scores[cs][k].append(float(np.mean([psnr(a, b) for a, b in zip(g, o)])))
    per_k = {k: {cs: float(np.mean(v[k])) for cs, v in scores.items()} for k in KS}
    best = max(KS, key=lambda k: np.mean(list(per_k[k].values())))
    t1 = time.perf_counter()
    TT.write_clip_labels(model, clips, run / "labels", best, log=lambda m: None)
    row = {"labels": str(run / "labels"), "blind_spot": best, "teacher_steps": summary["steps"],
           "teacher_minutes": round(summary["seconds"] / 60, 1), "prepare_minutes": round(prep / 60, 1),
           "label_minutes": round((time.perf_counter() - t1) / 60, 1),
           "teacher_psnr": {str(k): v for k, v in per_k.items()}}
    done.write_text(json.dumps(row, indent=1))
    return row


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--level", default="moderate", choices=B.LEVELS)
    ap.add_argument("--minutes", type=float, default=5.0, help="training budget per route")
    ap.add_argument("--steps", type=int, help="train each student this many steps instead of --minutes")
    ap.add_argument("--teacher-minutes", type=float, default=8.0, help="route (a): the temporal teacher's budget")
    ap.add_argument("--route", action="append", help=f"one of {', '.join(ROUTES)}, optionally @STEPS (e.g. n2n@2400: "
                    "that row trains this many steps); repeatable (default: all)")
    ap.add_argument("--tag", help="write results/video-routes-LEVEL-TAG.json and its own section (keeps earlier ones)")
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
    rows, teacher = [], None
    for asked in a.route or list(ROUTES):
        route, _, own = asked.partition("@")
        if route not in ROUTES or (own and not own.isdigit()):
            raise SystemExit(f"--route {asked}: expected one of {', '.join(ROUTES)}, optionally @STEPS")
        w = ROUTES[route]
        run_steps = int(own) if own else a.steps
        run = runs / (f"{a.level}-{route}-" + (f"{run_steps}steps" if run_steps else f"{a.minutes:g}min"))
        spec = NLM[a.level]
        if route.endswith("tbsn"):
            if teacher is None:
                teacher = temporal_teacher_labels(a.level, data, tune, runs / f"{a.level}-teacher-{a.teacher_minutes:g}min",
                                                  a.teacher_minutes)
                print(f"temporal teacher: {teacher['teacher_steps']} steps, blind spot {teacher['blind_spot']}; "
                      f"its own PSNR on the tuning split {teacher['teacher_psnr']}", flush=True)
            spec = f"labels:{teacher['labels']}"
        teach = [] if w is None else ["--teacher", spec, "--teacher-weight", str(w)]
        steps = ["--minutes", "1000", "--distill-steps", str(run_steps)] if run_steps else \
            ["--minutes", str(a.minutes), "--distill-steps", "100000"]
        reused = (run / "temporal-student.safetensors").exists()
        if not reused:
            subprocess.run(["hushframe", "adapt", str(data), "--temporal", "-o", str(run), *steps, *teach], check=True)
        onnx = run / "temporal.onnx"
        if not onnx.exists():
            subprocess.run(["hushframe", "export", str(run / "temporal-student.safetensors"), "-o", str(onnx)], check=True)
        report = json.loads((run / "temporal-report.json").read_text())
        row = {"route": asked, "teacher": None if w is None else ("temporal-atbsn" if route.endswith("tbsn") else spec),
               "teacher_weight": w, "steps": report["steps"], "minutes": round(report["seconds"] / 60, 1),
               "level": a.level, "reused": reused}
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
           "rows": rows, **({"temporal_teacher": teacher} if teacher else {})}
    name = f"video-routes-{a.level}" + (f"-{a.tag}" if a.tag else "")
    out = ROOT / "benchmarks" / "results" / f"{name}.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    how = f"{a.steps} steps" if a.steps else f"{a.minutes:g} min"
    lines = [*doc["provenance"], "",
             f"Noise level {a.level}; each student trained {how} on 2 cores (`hushframe adapt --temporal` on "
             "`video.py --reproduce`'s footage), scored as fp32 ONNX on video.py's TUNING split (motion: "
             + ", ".join(c.name for c, _, _ in tune.get("motion", [])) + "; static: "
             + ", ".join(c.name for c, _, _ in tune.get("static", [])) + "). PSNR dB / flicker (video.py's definition).", "",
             "| route | targets | steps | student min | motion | static |", "| --- | --- | --- | --- | --- | --- |"]
    what = {"n2n": "(b) frame-to-frame N2N", "blend-nlm": f"(b) 0.5 + (c) {NLM[a.level]} labels 0.5",
            "nlm": f"(c) {NLM[a.level]} labels alone", "tbsn": "(a) temporal AT-BSN teacher's labels alone",
            "blend-tbsn": "(b) 0.5 + (a) temporal AT-BSN labels 0.5"}
    for r in rows:
        cells = " | ".join(f"{r[cs]['psnr']:.2f} / {r[cs]['flicker']:.2f}" if cs in r else "-" for cs in ("motion", "static"))
        lines.append(f"| {r['route']} | {what[r['route'].partition('@')[0]]} | {r['steps']} | {r['minutes']:.1f} | {cells} |")
    if teacher:
        lines += ["", f"Route (a)'s teacher (models/temporal_teacher.py): trained {teacher['teacher_steps']} steps in "
                  f"{teacher['teacher_minutes']:.1f} min at blind spot {TeacherConfig.train_blind_spot} (blocks of 2x2 px) "
                  f"after {teacher['prepare_minutes']:.1f} min aligning each frame's four neighbours; labelling took "
                  f"{teacher['label_minutes']:.1f} min. Its own PSNR on the tuning split (non-causal: two frames each side) "
                  "per inference blind spot, motion / static: "
                  + "; ".join(f"k {k}: {v['motion']:.2f} / {v['static']:.2f}" for k, v in teacher["teacher_psnr"].items())
                  + f". Labels at k {teacher['blind_spot']} (best mean)."]
    if any(r["reused"] for r in rows) or (teacher and teacher.get("reused")):
        lines += ["", "Reused from runs/ (trained by an earlier invocation of this script, not in this run's wall time): "
                  + ", ".join([r["route"] for r in rows if r["reused"]] + (["the teacher"] if teacher and teacher.get("reused") else []))
                  + "."]
    lines += ["", "Short runs rank the routes; the spread from one short run to the next was about 0.1 dB in an "
              "exploratory probe (two runs of n2n)."]
    write_section(name, f"Video: training routes for the temporal student, {a.level} noise"
                  + (f" ({a.tag})" if a.tag else "") + " (issue 26 item 2)", "\n".join(lines))
    return rows


if __name__ == "__main__":
    main()
