"""Issue 7 item 4: GPU training and inference speed (figures name the GPU).

    python benchmarks/gpu_speed.py [--compile] [--steps 50]

* teacher training it/s (batch 8, 256x256) and distillation it/s (batch 8, 128x128), AMP
  (bf16), channels_last, optionally torch.compile; paper (RTX 3080): 8.3 and 11.1 it/s;
* student C inference fps at 1920x1088 in fp16 through torch (eager, and CUDA graphs via
  torch.compile(mode="reduce-overhead")), and through TensorRT when `tensorrt` imports.

Needs CUDA; on a machine without it the script says so and exits 0 (``--cpu-smoke`` runs a
tiny CPU version to check the script itself).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, versions, write_section  # noqa: E402


def timeit(fn, steps, sync):
    fn(); fn(); sync()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    return steps / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--cpu-smoke", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    import torch

    from hushframe.toolkit.methods.atbsn import distill_loss, teacher_loss
    from hushframe.toolkit.models import create_model

    if not torch.cuda.is_available() and not a.cpu_smoke:
        print("gpu_speed: CUDA is not available on this machine; nothing measured (use --cpu-smoke to test the script)")
        return
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.cpu_smoke else "cpu")
    width, tb, tc, db, dc, hw = (48, 8, 256, 8, 128, (1088, 1920)) if not a.cpu_smoke else (4, 2, 32, 2, 32, (64, 96))
    steps = a.steps if not a.cpu_smoke else 2
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    amp = dict(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda")
    cl = torch.channels_last

    teacher = create_model("atbsn", width=width).to(dev).to(memory_format=cl)
    student = create_model("student_c", width=width).to(dev).to(memory_format=cl)
    fwd_t, fwd_s = teacher, student
    if a.compile:
        fwd_t, fwd_s = torch.compile(teacher), torch.compile(student)
    opt_t = torch.optim.Adam(teacher.parameters(), 3e-4)
    opt_s = torch.optim.Adam(student.parameters(), 3e-4)
    yt = torch.rand(tb, 3, tc, tc, device=dev).to(memory_format=cl)
    yd = torch.rand(db, 3, dc, dc, device=dev).to(memory_format=cl)

    def t_step():
        with torch.autocast(**amp):
            loss = teacher_loss(fwd_t, yt, 9)
        opt_t.zero_grad(set_to_none=True); loss.backward(); opt_t.step()

    frozen = create_model("atbsn", width=width).to(dev).eval().to(memory_format=cl)

    def d_step():
        with torch.autocast(**amp):
            loss = distill_loss(fwd_s, frozen, yd, [0, 1, 3, 5, 7, 9, 11])
        opt_s.zero_grad(set_to_none=True); loss.backward(); opt_s.step()

    rows = []
    rows.append(("teacher training, batch %d, %dx%d" % (tb, tc, tc), timeit(t_step, steps, sync), "it/s", "8.3 it/s (RTX 3080)"))
    rows.append(("distillation, batch %d, %dx%d, 7 teachers" % (db, dc, dc), timeit(d_step, steps, sync), "it/s", "11.1 it/s (RTX 3080)"))

    student.eval()
    x = torch.rand(1, 3, *hw, device=dev)
    half = student.half() if dev.type == "cuda" else student
    xin = x.half() if dev.type == "cuda" else x
    with torch.inference_mode():
        rows.append((f"student C {hw[1]}x{hw[0]} torch eager {'fp16' if dev.type == 'cuda' else 'fp32'}",
                     timeit(lambda: half(xin), steps, sync), "frames/s", ""))
        if dev.type == "cuda":
            graphed = torch.compile(half, mode="reduce-overhead")
            rows.append((f"student C {hw[1]}x{hw[0]} torch.compile CUDA graphs fp16", timeit(lambda: graphed(xin), steps, sync), "frames/s", ""))
    try:
        import tensorrt  # noqa: F401

        rows.append(("TensorRT", float("nan"), "", "run `hushframe compile tensorrt` + `hushframe bench` on this machine"))
    except ImportError:
        rows.append(("TensorRT", float("nan"), "", "not installed here"))

    lines = ["| what | figure | unit | paper |", "| --- | --- | --- | --- |"]
    lines += [f"| {w} | {v:.2f} | {u} | {p} |" for w, v, u, p in rows]
    body = "\n".join([f"Command: `{command_line()}` (commit {git_rev()})", f"Machine: {machine()}",
                      f"Versions: {versions('torch')}", f"AMP bf16, channels_last, compile={a.compile}.", "", *lines])
    print(body)
    if not a.no_write and not a.cpu_smoke:
        write_section("gpu-speed", "GPU speed (issue 7)", body)


if __name__ == "__main__":
    main()
