"""`hushframe demo`: the whole chain on an embedded default, offline, in minutes on a CPU."""

from __future__ import annotations

import json
from pathlib import Path

import typer

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them

ASSETS = Path(__file__).resolve().parents[1] / "assets"


@app.command("demo", rich_help_panel="Start here")
def demo(
    output: Path = typer.Option(Path("hushframe-demo"), "-o", "--output", help="Folder for everything the demo makes."),
    from_scratch: bool = typer.Option(False, "--from-scratch", help="Train teacher and student from random weights (slow on CPU, weak in minutes)."),
    teacher_steps: int = typer.Option(60, help="Teacher fine-tuning steps on the demo camera."),
    distill_steps: int = typer.Option(60, help="Distillation steps."),
    device: str = typer.Option("auto"),
    skip_deploy: bool = typer.Option(False, "--skip-deploy", help="Stop after training (no export, OpenVINO, streaming)."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an earlier demo run in the -o folder "
                                                                    "(without it an earlier run is refused; an "
                                                                    "interrupted one with the same flags resumes)."),
):
    """Simulate a camera, adapt the shipped small teacher to it, distill a student, then export,
    compile to OpenVINO, stream a clip and check parity. No network, no arguments needed.

    The shipped weights (toolkit/assets/demo-*.safetensors) were trained on public-domain
    photos through the same noise simulator (recipes/demo-pretrain.toml; reproduce with
    `python -m hushframe.toolkit.demo_weights`).

      hushframe demo

      hushframe demo --from-scratch --teacher-steps 300 --distill-steps 300 -o demo-scratch
    """
    import os
    import time

    import torch
    from rich.console import Console
    from rich.table import Table

    from ..demo_weights import ArrayPair
    from ..eval.evaluate import evaluate, evaluate_noisy, save_strip
    from ..recipes import load_recipe
    from ..training.loop import pick_device
    from ..methods.atbsn import distill_student, train_teacher

    t0 = time.perf_counter()
    console = Console()
    wanted = {"from_scratch": from_scratch, "teacher_steps": teacher_steps, "distill_steps": distill_steps}
    resume = prepare_folder(output, overwrite, wanted)   # before any work: refuses an earlier run without -y
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    dev = pick_device(device)
    run = output / "run"
    if resume:
        console.print(f"[yellow]resuming the interrupted demo run in {run} (same flags)[/]")

    console.rule("[bold]1. a simulated camera")
    train, test = demo_camera()
    console.print(f"{len(train)} noisy training images (no ground truth used), {len(test)} noisy/clean test pairs of photos no training saw "
                  f"({', '.join(HELD_OUT)}); "
                  f"Bayer mosaic + Poisson-Gaussian noise + demosaic: spatially correlated noise")

    r = load_recipe("demo-pretrain")
    # Fine-tuning the shipped weights warms up over 10 steps at 1e-4: a short run must not damage them. At
    # 3e-4, 60 + 60 steps turned a clean grey 128 into (129, 133, 129) and black into (0, 4, 8) (issue 27);
    # at 1e-4 grey stays (129, 130, 130), held-out PSNR within 0.03 dB (retina 0.2 dB lower).
    warm = 0 if from_scratch else 10
    lr = 1e-3 if from_scratch else 1e-4
    r["teacher"].update(iterations=teacher_steps, checkpoint_every=max(teacher_steps // 2, 1), val_every=10**9,
                        lr=lr, warmup=warm)
    r["distill"].update(iterations=distill_steps, checkpoint_every=max(distill_steps // 2, 1), val_every=10**9,
                        lr=lr, warmup=warm)
    init_t = None if from_scratch else ASSETS / "demo-teacher.safetensors"
    init_s = None if from_scratch else ASSETS / "demo-student.safetensors"
    for f in (init_t, init_s):
        if f is not None and not f.exists():
            raise FileNotFoundError(f"{f}: shipped demo weights missing (reinstall, or use --from-scratch)")

    console.rule("[bold]2. teacher (AT-BSN, self-supervised, k_a = 9)")
    start = "random weights" if from_scratch else "the shipped demo weights"
    source = {"data": "demo camera (simulated)", "init": start}
    teacher = run / "teacher.safetensors"
    if not reused(console, teacher):
        teacher = train_teacher(train, r["teacher"], run, device=dev, resume=resume, init_weights=init_t, source=source)
    console.rule("[bold]3. student C distilled from teachers Ks = {" + ",".join(map(str, r["distill"]["teachers"])) + "}")
    student = run / "student.safetensors"
    if not reused(console, student):
        student = distill_student(train, r["distill"], teacher, run, device=dev, resume=resume, init_weights=init_s,
                                  source=source)

    console.rule("[bold]4. quality on held-out pairs")
    from ..weights import load_model

    pairs = [ArrayPair(name, n, c) for name, (n, c) in zip(HELD_OUT, test)]
    base = evaluate_noisy(pairs)
    kb = r["teacher"]["infer_blind_spot"]
    t_res, _ = evaluate(load_model(teacher, str(dev)), pairs, dev, blind_spot=kb, label=f"teacher (k_b = {kb})")
    s_res, kept = evaluate(load_model(student, str(dev)), pairs, dev, label="student C", keep=len(pairs))
    save_strip(output / "strip.png", kept, label="student")   # every held-out photo, the worst included
    table = Table(title="demo camera, held-out photos (" + ", ".join(HELD_OUT) + ")")
    for c in ("what", "PSNR (dB)", "SSIM", "gain (dB)"):
        table.add_column(c)
    for res in (base, t_res, s_res):
        table.add_row(res.label, f"{res.psnr:.2f}", f"{res.ssim:.4f}", f"{res.psnr - base.psnr:+.2f}")
    console.print(table)
    rows = per_image(base, t_res, s_res)
    photos = Table(title="each photo, PSNR (dB)")
    for c in ("photo", "noisy", "teacher", "student", "student gain"):
        photos.add_column(c)
    for row in rows:
        gain = row["student_psnr"] - row["noisy_psnr"]
        photos.add_row(row["name"], f"{row['noisy_psnr']:.2f}", f"{row['teacher_psnr']:.2f}",
                       f"{row['student_psnr']:.2f}", ("" if gain > 0 else "[red]") + f"{gain:+.2f}")
    console.print(photos)
    worse = [row["name"] for row in rows if row["student_psnr"] <= row["noisy_psnr"]]
    if worse:
        console.print(f"[red]the student is worse than its noisy input on {', '.join(worse)}[/]")
    console.print(f"pictures: {output / 'strip.png'}")
    console.print(what_it_shows(teacher_steps, distill_steps, from_scratch))

    deployed = {}
    if not skip_deploy:
        from .demo_deploy import deploy_steps

        deployed = deploy_steps(console, output, student, test)
    elapsed = time.perf_counter() - t0
    from hushframe.core.atomic import write_json_atomic

    write_json_atomic(output / "demo-results.json", {
        # a run resumes only with the flags that started it (prepare_folder), so these made the models
        "seconds": elapsed, **wanted, "start": start,
        "quality": [{"what": r.label, "psnr": r.psnr, "ssim": r.ssim} for r in (base, t_res, s_res)],
        "per_image": rows,
        "stream": deployed["stats"].summary() if deployed else None,
        "parity_passed": deployed["parity"].passed if deployed else None})
    console.print(f"[bold green]demo finished in {elapsed:.0f} s[/] (everything is in {output}/)")


def prepare_folder(output: Path, overwrite: bool, wanted: dict) -> bool:
    """Check the -o folder before any work; returns True when an interrupted run resumes there.

    An earlier finished run (demo-results.json) or a folder the demo did not make is refused without
    --overwrite; an interrupted run resumes only if it was started with the same flags (run/demo-run.json),
    so `--from-scratch` never continues from fine-tuned models (issue 27). With --overwrite the earlier
    run's models and checkpoints (run/) are removed first; the other outputs are replaced as they are written.
    """
    import shutil

    from hushframe.core.atomic import write_json_atomic
    from hushframe.core.errors import OutputPathError

    run, started = output / "run", output / "run" / "demo-run.json"
    if output.exists() and not output.is_dir():
        raise OutputPathError(f"{output}: exists and is not a folder")
    earlier = None
    if (output / "demo-results.json").exists():
        earlier = "holds an earlier demo run (demo-results.json)"
    elif run.is_dir():
        try:
            flags = json.loads(started.read_text())
        except (OSError, ValueError):
            flags = None
        if flags != wanted:
            shown = ", ".join(f"{k} {v}" for k, v in (flags or {}).items()) or "unknown flags"
            earlier = f"holds an interrupted demo run started with other flags ({shown})"
    elif output.is_dir() and any(output.iterdir()):
        earlier = "exists and is not empty"
    if earlier is not None:
        if not overwrite:
            raise OutputPathError(f"{output}: {earlier}; use another -o folder, or --overwrite / -y to replace it")
        shutil.rmtree(run, ignore_errors=True)
        (output / "demo-results.json").unlink(missing_ok=True)
    resume = run.is_dir()
    run.mkdir(parents=True, exist_ok=True)
    write_json_atomic(started, wanted)
    return resume


def reused(console, model: Path) -> bool:
    """A model an interrupted run with the same flags finished already is used as it is (said so)."""
    if not model.exists():
        return False
    console.print(f"[yellow]reusing {model}, finished by the interrupted run[/]")
    return True


def per_image(base, teacher, student) -> list[dict]:
    """{name, noisy_psnr, teacher_psnr, student_psnr} per held-out photo (demo-results.json)."""
    return [{"name": b["name"], "noisy_psnr": b["psnr"], "teacher_psnr": t["psnr"], "student_psnr": s["psnr"]}
            for b, t, s in zip(base.per_image, teacher.per_image, student.per_image)]


def what_it_shows(teacher_steps, distill_steps, from_scratch: bool) -> str:
    """One honest caption for the figures above: what the picture is, and what this run is not."""
    start = "random weights" if from_scratch else "the shipped demo weights"
    return (f"strip.png, left to right: the noisy input, student C's output, the clean ground truth, on crops of "
            f"photos no training saw ({', '.join(HELD_OUT)}; CC0, scikit-image) through a simulated camera "
            f"(numbers above the crops are PSNR to the clean image). The models start "
            f"from {start} and are tuned for {teacher_steps} teacher + {distill_steps} distillation steps on this "
            f"machine: a check that the whole chain runs, not a tuned denoiser. Compare colours and the "
            f"borders with the clean column.")


HELD_OUT = ("retina", "camera", "brick", "grass", "gravel")  # CC0 images in scikit-image, never trained on


def held_out_images():
    """Photos that neither the shipped weights' pretraining nor the demo's fine-tuning saw.

    All CC0 / public domain per scikit-image's data docstrings: retina (CC0, Haggstrom),
    camera (CC0, Lav Varshney), brick, grass, gravel (CC0Textures). Grey ones are replicated
    to RGB; the camera's colour noise still makes them colour pairs. One centred 192-px crop each
    (retina: inside the fundus).
    """
    import numpy as np
    from skimage import data

    out = []
    for name in HELD_OUT:
        a = getattr(data, name)()
        a = np.repeat(a[..., None], 3, 2) if a.ndim == 2 else a[..., :3]
        h, w = a.shape[:2]
        y, x = (h - 192) // 2, (w - 192) // 2
        out.append((name, np.ascontiguousarray(a[y:y + 192, x:x + 192])))
    return out


def demo_camera():
    """Training frames (the five pretraining photos + synthetic scenes) and held-out pairs
    (five other photos) of one simulated camera (fixed seeds)."""
    import numpy as np

    from ..data.datasets import public_domain_images
    from hushframe.core.images import to_uint8
    from ..data.simulator import demo_camera_params, simulate_pair
    from ..data.synthetic import synthetic_scenes

    rng = np.random.default_rng(2024)
    cam = demo_camera_params()  # one fixed camera, high gain (low light), with an optical low-pass filter
    clean = [a.astype(np.float32) / 255.0 for _, a in public_domain_images()] + synthetic_scenes(6, 2024)
    train, test = [], []
    for f in clean:
        n, _ = simulate_pair(f, rng, params=cam)
        train.append(to_uint8(n))
    for _, im in held_out_images():
        n, g = simulate_pair(im.astype(np.float32) / 255.0, rng, params=cam)
        test.append((to_uint8(n), to_uint8(g)))
    return train, test


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
