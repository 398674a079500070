"""GPU training and inference speed, lever by lever.

    python benchmarks/gpu_speed.py --data PHOTOS [--steps 30] [--json benchmarks/results/gpu_speed.json]
    python benchmarks/gpu_speed.py --render benchmarks/results/gpu_speed.json   # BENCHMARKS.md section only
    python benchmarks/gpu_speed.py --cpu-smoke                                   # checks the script on a CPU

Measured in one process on one GPU, each lever added to the previous ones:

* teacher training step (batch 8, 256x256, k_a = 9, AMP bf16, channels_last): the plain
  step (eager, per-parameter Adam, the loss read on the host every step: the baseline), then fused Adam and
  no per-step host sync, then cuDNN autotuning, then torch.compile of the network;
* distillation step (batch 8, 128x128, Ks = {0,1,3,5,7,9,11}): the same ladder;
* student C at 1920x1088 fp16: eager NCHW (the baseline), channels_last + cuDNN autotuning,
  CUDA graphs through torch.compile(mode="reduce-overhead"), and batches of 4 frames;
* the CLI: `hushframe train` and `hushframe distill` on real photos (crops cut on the GPU), the
  it/s from their own CSV logs after warm-up.

Writes a JSON (gpu, teacher_it_s, distill_it_s, student_c_1080p_fps, cli_teacher_it_s,
cli_distill_it_s, commit, levers) and, with --render or --write, the BENCHMARKS.md section.
Timing loops synchronise once at the end, never per step.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import command_line, git_rev, machine, versions, write_section  # noqa: E402

KS = [0, 1, 3, 5, 7, 9, 11]


def best(ladder: dict) -> float:
    return max(v for v in ladder.values() if v == v)  # NaN: a lever not measured here


def rate(fn, steps, sync, warmup=3):
    for _ in range(warmup):
        fn()
    sync()
    t = time.perf_counter()
    for _ in range(steps):
        fn()
    sync()
    return steps / (time.perf_counter() - t)


def training_ladder(kind, dev, steps, sizes, out):
    """it/s of one training step with the levers added one by one; returns {lever: it/s}."""
    import torch

    from hushframe.toolkit.methods.atbsn import distill_loss, teacher_loss
    from hushframe.toolkit.models import create_model

    width, batch, crop = sizes
    cl = torch.channels_last
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    amp = dict(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda")
    torch.manual_seed(0)
    y = torch.rand(batch, 3, crop, crop, device=dev).contiguous(memory_format=cl)
    if kind == "teacher":
        model = create_model("atbsn", width=width).to(dev).to(memory_format=cl)
        loss_of = lambda net: teacher_loss(net, y, 9)  # noqa: E731
    else:
        model = create_model("student_c", width=width).to(dev).to(memory_format=cl)
        frozen = create_model("atbsn", width=width).to(dev).eval().to(memory_format=cl)
        for p in frozen.parameters():
            p.requires_grad_(False)
        loss_of = lambda net: distill_loss(net, frozen, y, KS)  # noqa: E731

    def step_fn(net, opt, host_read):
        def step():
            with torch.autocast(**amp):
                loss = loss_of(net)
            if host_read:
                float(loss.detach())  # the landed loop read (and NaN-checked) the loss every step
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step

    res = {}
    torch.backends.cudnn.benchmark = False
    opt = torch.optim.Adam(model.parameters(), 3e-4)
    res["landed (eager, Adam, host read per step)"] = rate(step_fn(model, opt, True), steps, sync)
    fused = dev.type == "cuda"
    opt = torch.optim.Adam(model.parameters(), 3e-4, fused=fused or None)
    res["+ fused Adam, no per-step host sync"] = rate(step_fn(model, opt, False), steps, sync)
    torch.backends.cudnn.benchmark = True
    res["+ cuDNN autotuning"] = rate(step_fn(model, opt, False), steps, sync)
    out(f"{kind}: {res}")
    res["_model"], res["_opt"], res["_step_fn"] = model, opt, step_fn
    return res


def add_compile(kind, res, dev, steps, out):
    """The last lever, measured after everything else (its compile takes a minute or two)."""
    import torch

    model, opt, step_fn = res.pop("_model"), res.pop("_opt"), res.pop("_step_fn")
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type != "cuda":  # inductor's CPU compile takes minutes: the smoke run checks the rest
        res["+ torch.compile"] = float("nan")
        return res
    t0 = time.perf_counter()
    compiled = torch.compile(model)
    res["+ torch.compile"] = rate(step_fn(compiled, opt, False), steps, sync, warmup=3)
    out(f"{kind}: compiled ({time.perf_counter() - t0:.0f} s incl. compile): {res['+ torch.compile']:.2f} it/s")
    return res


def inference_ladder(dev, steps, width, hw, out):
    import torch

    from hushframe.toolkit.models import create_model

    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    dt = torch.float16 if dev.type == "cuda" else torch.float32
    res = {}
    student = create_model("student_c", width=width).to(dev).to(dt).eval()
    x = torch.rand(1, 3, *hw, device=dev, dtype=dt)
    with torch.inference_mode():
        torch.backends.cudnn.benchmark = False
        res["landed (eager, NCHW)"] = rate(lambda: student(x), steps, sync)
        torch.backends.cudnn.benchmark = True
        student = student.to(memory_format=torch.channels_last)
        xc = x.contiguous(memory_format=torch.channels_last)
        res["channels_last + cuDNN autotuning"] = rate(lambda: student(xc), steps, sync)
        if dev.type == "cuda":
            graphed = torch.compile(student, mode="reduce-overhead")
            res["+ CUDA graphs (torch.compile reduce-overhead)"] = rate(lambda: graphed(xc), steps, sync, warmup=5)
            x4 = torch.rand(4, 3, *hw, device=dev, dtype=dt).contiguous(memory_format=torch.channels_last)
            res["+ batches of 4 frames (frames/s)"] = 4 * rate(lambda: graphed(x4), max(steps // 4, 3), sync, warmup=5)
    out(f"student C inference: {res}")
    return res


def cli_rate(stage, data, steps, device, extra, out, teacher_extra=()):
    """it/s of `hushframe train|distill` from its CSV log, the first intervals (compile, warm-up) dropped."""
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        base = [sys.executable, "-m", "hushframe.toolkit.cli.main"]
        log_every = max(steps // 10, 1)
        common = ["--device", device, "--set", f"{'teacher' if stage == 'train' else 'distill'}.log_every={log_every}"]
        if stage == "train":
            cmd = base + ["train", str(data), "-o", str(run), "--recipe", "atbsn-sidd", "--iterations", str(steps),
                          "--checkpoint-every", str(steps)] + common + extra
        else:
            teacher = Path(tmp) / "t" / "teacher.safetensors"
            subprocess.run(base + ["train", str(data), "-o", str(teacher.parent), "--recipe", "atbsn-sidd",
                                   "--iterations", "1", "--device", device, *teacher_extra], check=True, capture_output=True)
            cmd = base + ["distill", str(data), "-t", str(teacher), "-o", str(run), "--recipe", "atbsn-sidd",
                          "--iterations", str(steps), "--checkpoint-every", str(steps)] + common + extra
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            out(f"{stage} failed:\n{p.stdout[-2000:]}\n{p.stderr[-2000:]}")
            return float("nan")
        name = "teacher" if stage == "train" else "distill"
        rows = list(csv.DictReader(open(run / f"{name}-log.csv")))
        ips = [float(r["it_per_s"]) for r in rows if r.get("it_per_s")]
        good = ips[len(ips) // 2:] or ips
        out(f"CLI {stage}: {len(ips)} intervals {[round(v, 1) for v in ips]} ({time.perf_counter() - t:.0f} s)")
        return statistics.median(good)


def render(res: dict) -> str:
    lines = [f"Command: `{res['command']}` (commit {res['commit']})", f"Machine: {res['machine']}",
             f"Versions: {res['versions']}", "",
             "| what | figure | goal (issue 11) |", "| --- | --- | --- |",
             f"| teacher training, batch 8, 256x256, k_a = 9 | {res['teacher_it_s']:.1f} it/s | >= 60 it/s (landed: 17.0) |",
             f"| distillation, batch 8, 128x128, 7 teachers | {res['distill_it_s']:.1f} it/s | >= 120 it/s (landed: 45.4) |",
             f"| `hushframe train` (same settings, CLI) | {res['cli_teacher_it_s']:.1f} it/s | within 10% of the step |",
             f"| `hushframe distill` (same settings, CLI) | {res['cli_distill_it_s']:.1f} it/s | within 10% of the step |",
             f"| student C 1920x1088 fp16 | {res['student_c_1080p_fps']:.0f} frames/s | >= 400 (landed: 171) |",
             "", "Each lever added to the ones above it, measured in this one run:", "",
             "| part | lever | figure |", "| --- | --- | --- |"]
    for part, ladder in res["levers"].items():
        for lever, v in ladder.items():
            lines.append(f"| {part} | {lever} | {v:.1f} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, help="noisy photos for the CLI figures")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cli-steps", type=int, default=400)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--write", action="store_true", help="also write the BENCHMARKS.md section")
    ap.add_argument("--render", type=Path, default=None, help="write the BENCHMARKS.md section from a JSON")
    ap.add_argument("--cpu-smoke", action="store_true")
    a = ap.parse_args()
    if a.render:
        write_section("gpu-speed", "GPU speed (issue 11)", render(json.loads(a.render.read_text())))
        return
    import torch

    if not torch.cuda.is_available() and not a.cpu_smoke:
        print("gpu_speed: CUDA is not available on this machine; nothing measured (use --cpu-smoke to test the script)")
        return
    dev = torch.device("cuda" if not a.cpu_smoke else "cpu")
    smoke = a.cpu_smoke
    out = lambda m: print(m, flush=True)  # noqa: E731
    res = {"gpu": torch.cuda.get_device_name(0) if dev.type == "cuda" else "none (cpu smoke)",
           "commit": os.environ.get("HUSHFRAME_COMMIT") or git_rev(), "command": command_line(),
           "machine": machine(), "versions": versions("torch"), "levers": {}}

    def save():
        if a.json:
            a.json.parent.mkdir(parents=True, exist_ok=True)
            tmp = a.json.with_suffix(".tmp")
            tmp.write_text(json.dumps(res, indent=1))
            os.replace(tmp, a.json)

    # Cheap, essential figures first (the call has a time limit); the compile lever last.
    steps = 2 if smoke else a.steps
    t = training_ladder("teacher", dev, steps, (4, 2, 64) if smoke else (48, 8, 256), out)
    res["levers"]["teacher it/s"] = {k: v for k, v in t.items() if not k.startswith("_")}
    res["teacher_it_s"] = best(res["levers"]["teacher it/s"]); save()
    d = training_ladder("distill", dev, steps, (4, 2, 32) if smoke else (48, 8, 128), out)
    res["levers"]["distill it/s"] = {k: v for k, v in d.items() if not k.startswith("_")}
    res["distill_it_s"] = best(res["levers"]["distill it/s"]); save()
    i = inference_ladder(dev, steps if smoke else 4 * a.steps, 4 if smoke else 48, (64, 96) if smoke else (1088, 1920), out)
    res["levers"]["student C 1080p frames/s"] = i
    res["student_c_1080p_fps"] = best(i); save()
    if a.data:
        # The CLI with the eager levers (device crops, fused Adam, no per-step sync, cuDNN
        # autotuning): compare with the step's "+ cuDNN autotuning" figure.
        sm = ["--set", "teacher.width=4", "--set", "teacher.levels=2", "--set", "teacher.crop=32", "--batch", "2"] if smoke else []
        smd = ["--set", "distill.width=4", "--set", "distill.crop=32", "--batch", "2"] if smoke else []
        n = 4 if smoke else a.cli_steps
        res["cli_teacher_it_s"] = cli_rate("train", a.data, n, dev.type, sm, out); save()
        res["cli_distill_it_s"] = cli_rate("distill", a.data, n, dev.type, smd, out, sm); save()
    for kind, ladder in (("teacher", t), ("distill", d)):
        add_compile(kind, ladder, dev, steps, out)
        res["levers"][f"{kind} it/s"] = {k: v for k, v in ladder.items() if not k.startswith("_")}
        res[f"{kind}_it_s"] = best(res["levers"][f"{kind} it/s"]); save()
    print(json.dumps(res, indent=1))
    if a.write and not smoke:
        write_section("gpu-speed", "GPU speed (issue 11)", render(res))


if __name__ == "__main__":
    main()
