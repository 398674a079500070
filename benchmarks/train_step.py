"""Cost of one training step: teacher, shared-feature distillation, naive distillation, student.

    python benchmarks/train_step.py [--width 48] [--batch 8] [--crop 128] [--repeats 3] [--device auto]

Writes the 'train-step' section of BENCHMARKS.md. Timings are interleaved round-robin
(one of each kind per round) so machine load hits every kind alike; figures are medians
and the claims are ratios from this one run:

* distillation with shared features (4 UNet passes once, then shift + 1x1 per k) should
  cost at most 1.5 x (teacher forward + student step);
* naive distillation (one full teacher forward per k) costs about |Ks| = 7 x a teacher forward.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_section  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=48)
    ap.add_argument("--levels", type=int, default=5)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()

    import torch

    from hushframe.toolkit.methods.atbsn import distill_loss, naive_distill_loss, teacher_loss
    from hushframe.toolkit.models import create_model
    from hushframe.toolkit.training.loop import pick_device

    dev = pick_device(a.device)
    torch.manual_seed(0)
    ks = [0, 1, 3, 5, 7, 9, 11]
    teacher = create_model("atbsn", width=a.width, levels=a.levels).to(dev)
    student = create_model("student_c", width=a.width, levels=a.levels).to(dev)
    frozen = create_model("atbsn", width=a.width, levels=a.levels).to(dev).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    opt_t = torch.optim.Adam(teacher.parameters(), 3e-4)
    opt_s = torch.optim.Adam(student.parameters(), 3e-4)
    y = torch.rand(a.batch, 3, a.crop, a.crop, device=dev)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step(opt, loss_fn):
        def run():
            loss = loss_fn()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return run

    def teacher_fwd():
        with torch.no_grad():
            frozen(y, blind_spot=3)

    kinds = {
        "teacher step (k_a = 9)": step(opt_t, lambda: teacher_loss(teacher, y, 9)),
        "teacher forward (one k)": teacher_fwd,
        "student step": step(opt_s, lambda: torch.nn.functional.l1_loss(student(y), y)),
        "distill step, shared features (7 teachers)": step(opt_s, lambda: distill_loss(student, frozen, y, ks)),
        "distill step, naive (7 full teacher passes)": step(opt_s, lambda: naive_distill_loss(student, frozen, y, ks)),
    }
    for fn in kinds.values():  # warm-up
        fn(); sync()
    times = {k: [] for k in kinds}
    for r in range(a.repeats):
        for k, fn in kinds.items():
            sync(); t = time.perf_counter(); fn(); sync()
            times[k].append(time.perf_counter() - t)
        print(f"round {r + 1}/{a.repeats}: " + ", ".join(f"{k.split(' (')[0]} {times[k][-1]:.2f}s" for k in kinds), flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    base = med["teacher forward (one k)"] + med["student step"]
    shared = med["distill step, shared features (7 teachers)"]
    naive = med["distill step, naive (7 full teacher passes)"]
    rows = ["| step | median time (s) | relative to teacher forward + student step |", "| --- | --- | --- |"]
    for k, v in med.items():
        rows.append(f"| {k} | {v:.3f} | {v / base:.2f} x |")
    body = "\n".join([
        *provenance("torch", machine_note=f"device {dev}"),
        f"Setting: width {a.width}, {a.levels} poolings, batch {a.batch}, crop {a.crop}x{a.crop}, Ks = {ks}, {a.repeats} interleaved rounds, medians.",
        "",
        *rows,
        "",
        f"**Shared-feature distillation step = {shared / base:.2f} x (teacher forward + student step)** (bar: at most 1.5 x); "
        f"naive distillation = {naive / base:.2f} x the same, i.e. {naive / shared:.1f} x the shared-feature step; "
        f"naive / teacher forward = {naive / med['teacher forward (one k)']:.1f} x (|Ks| = 7).",
    ])
    print(body)
    if not a.no_write:
        write_section("train-step", "Training step cost (issue 2)", body)


if __name__ == "__main__":
    main()
