"""How much route (a)'s temporal teacher adds to its base, the mean of the aligned neighbours (issue 26).

    python benchmarks/video_teacher_base.py [--teacher runs/video/routes/moderate-teacher-8min/temporal-teacher.safetensors]

The teacher that ``video_routes.py --tag a`` trained, on the first 8 frames of each TUNING clip at its noise
level (frames 2-5 scored: every neighbour exists), against the noisy frame and the mean of the valid aligned
neighbours, split by how many neighbours passed the flow check at the pixel. PSNR over those pixels, 0-255.
Writes results/video-teacher-base.json and the ``video-teacher-base`` section.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _video_clips as V  # noqa: E402
import video as B  # noqa: E402
from _report import ROOT, provenance, write_section  # noqa: E402

GROUPS = {"0": (0, 0), "1-2": (1, 2), "3-4": (3, 4)}


def _psnr(sq_err: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / max(float(sq_err.mean()), 1e-12)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teacher", type=Path, default=ROOT / "runs/video/routes/moderate-teacher-8min/temporal-teacher.safetensors")
    ap.add_argument("--level", default="moderate", choices=B.LEVELS)
    a = ap.parse_args(argv)
    if not a.teacher.exists():
        raise SystemExit(f"{a.teacher}: no such teacher (train one with video_routes.py --tag a --route tbsn)")
    import torch

    from hushframe.toolkit.training import temporal_teacher as TT
    from hushframe.toolkit.weights import load_model

    torch.set_num_threads(2)
    model = load_model(a.teacher).eval()
    k = TT.TeacherConfig.infer_blind_spot   # the blind spot its labels were made at (video_routes.py chose it)
    rows = []
    for cs, splits in B.load_clips(False).items():
        for c in splits["tune"]:
            g, n = V.render(c.frames[:8], a.level, f"{cs}/{c.name}")
            nb = TT.neighbour_stack(n)
            out = TT.label_clip(model, np.stack(n), nb, [k])[0]
            t = slice(2, 6)
            gt = np.stack(g[t]).astype(np.float64)
            rgb = nb[t].reshape(*nb[t].shape[:3], 4, 4).astype(np.float64)
            valid = rgb[..., 3:4] / 255.0
            cnt = valid[..., 0].sum(-1)
            mean = (rgb[..., :3] * valid).sum(3) / np.maximum(valid.sum(3), 1)
            errs = {"noisy": ((np.stack(n[t]) - gt) ** 2).mean(-1), "neighbour mean": ((mean - gt) ** 2).mean(-1),
                    "teacher": ((np.stack(out[t]) - gt) ** 2).mean(-1)}
            row = {"clipset": cs, "clip": c.name, "all": {w: _psnr(e) for w, e in errs.items()}}
            for name, (lo, hi) in GROUPS.items():
                sel = (cnt >= lo) & (cnt <= hi)
                if sel.any():
                    row[name] = {"share": float(sel.mean()), **{w: _psnr(e[sel]) for w, e in errs.items()}}
            rows.append(row)
            print(json.dumps(row), flush=True)
    doc = {"provenance": provenance("numpy", "torch"), "teacher": str(a.teacher.relative_to(ROOT)), "blind_spot": k,
           "rows": rows}
    (ROOT / "benchmarks" / "results" / "video-teacher-base.json").write_text(json.dumps(doc, indent=1) + "\n")
    lines = [*doc["provenance"], "",
             f"Teacher `{doc['teacher']}` at blind spot {k}, {a.level} noise, tuning clips' frames 2-5. PSNR dB: noisy / "
             "neighbour mean / teacher, over all pixels and by how many of the four neighbours passed the flow check "
             "(where none did, the neighbour mean is 0; the teacher's base there is its ring mean).", "",
             "| clip | all | 0 valid | 1-2 valid | 3-4 valid |", "| --- | --- | --- | --- | --- |"]
    for r in rows:
        cell = lambda d: f"{d['noisy']:.2f} / {d['neighbour mean']:.2f} / {d['teacher']:.2f}"  # noqa: E731
        parts = [f"{r[g]['share'] * 100:.1f}%: {cell(r[g])}" if g in r else "-" for g in GROUPS]
        lines.append(f"| {r['clipset']} {r['clip']} | {cell(r['all'])} | " + " | ".join(parts) + " |")
    write_section("video-teacher-base", "Video: route (a)'s teacher against its base, the neighbours' mean (issue 26)",
                  "\n".join(lines))


if __name__ == "__main__":
    main()
