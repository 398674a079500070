"""`hushframe demo`: the whole chain on an embedded default, offline, in minutes on a CPU."""

from __future__ import annotations

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
):
    """Simulate a camera, adapt the shipped small teacher to it, distill a student, then export,
    compile to OpenVINO, stream a clip and check parity. No network, no arguments needed.

    The shipped weights (toolkit/assets/demo-*.safetensors) were trained on public-domain
    photos through the same noise simulator (recipes/demo-pretrain.toml; reproduce with
    `python -m hushframe.toolkit.demo_weights`).

      hushframe demo

      hushframe demo --from-scratch --teacher-steps 300 --distill-steps 300
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
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    dev = pick_device(device)
    output.mkdir(parents=True, exist_ok=True)
    run = output / "run"
    resume = (run / "checkpoints").exists()

    console.rule("[bold]1. a simulated camera")
    train, test = demo_camera()
    console.print(f"{len(train)} noisy training images (no ground truth used), {len(test)} noisy/clean test pairs of photos no training saw "
                  f"({', '.join(HELD_OUT)}); "
                  f"Bayer mosaic + Poisson-Gaussian noise + demosaic: spatially correlated noise")

    r = load_recipe("demo-pretrain")
    # Fine-tuning the shipped weights warms up over 10 steps: a short run must not damage them.
    warm = 0 if from_scratch else 10
    r["teacher"].update(iterations=teacher_steps, checkpoint_every=max(teacher_steps // 2, 1), val_every=10**9,
                        lr=3e-4 if not from_scratch else 1e-3, warmup=warm)
    r["distill"].update(iterations=distill_steps, checkpoint_every=max(distill_steps // 2, 1), val_every=10**9,
                        lr=3e-4 if not from_scratch else 1e-3, warmup=warm)
    init_t = None if from_scratch else ASSETS / "demo-teacher.safetensors"
    init_s = None if from_scratch else ASSETS / "demo-student.safetensors"
    for f in (init_t, init_s):
        if f is not None and not f.exists():
            raise FileNotFoundError(f"{f}: shipped demo weights missing (reinstall, or use --from-scratch)")

    console.rule("[bold]2. teacher (AT-BSN, self-supervised, k_a = 9)")
    teacher = run / "teacher.safetensors"
    reused = [p for p in (teacher, run / "student.safetensors") if p.exists()]
    ran_teacher = reused_steps(console, teacher, teacher_steps, "--teacher-steps")
    if ran_teacher is None:
        teacher = train_teacher(train, r["teacher"], run, device=dev, resume=resume, init_weights=init_t,
                                source={"data": "demo camera (simulated)"})
        ran_teacher = teacher_steps
    console.rule("[bold]3. student C distilled from teachers Ks = {" + ",".join(map(str, r["distill"]["teachers"])) + "}")
    student = run / "student.safetensors"
    ran_student = reused_steps(console, student, distill_steps, "--distill-steps")
    if ran_student is None:
        student = distill_student(train, r["distill"], teacher, run, device=dev, resume=resume, init_weights=init_s,
                                  source={"data": "demo camera (simulated)"})
        ran_student = distill_steps

    console.rule("[bold]4. quality on held-out pairs")
    from ..weights import load_model

    pairs = [ArrayPair(name, n, c) for name, (n, c) in zip(HELD_OUT, test)]
    base = evaluate_noisy(pairs)
    kb = r["teacher"]["infer_blind_spot"]
    t_res, _ = evaluate(load_model(teacher, str(dev)), pairs, dev, blind_spot=kb, label=f"teacher (k_b = {kb})")
    s_res, kept = evaluate(load_model(student, str(dev)), pairs, dev, label="student C", keep=3)
    save_strip(output / "strip.png", kept, label="student")
    table = Table(title="demo camera, held-out photos (" + ", ".join(HELD_OUT) + ")")
    for c in ("what", "PSNR (dB)", "SSIM", "gain (dB)"):
        table.add_column(c)
    for res in (base, t_res, s_res):
        table.add_row(res.label, f"{res.psnr:.2f}", f"{res.ssim:.4f}", f"{res.psnr - base.psnr:+.2f}")
    console.print(table)
    console.print(f"pictures: {output / 'strip.png'}")
    console.print(what_it_shows(ran_teacher, ran_student, from_scratch))

    deployed = {}
    if not skip_deploy:
        from .demo_deploy import deploy_steps

        deployed = deploy_steps(console, output, student, test)
    elapsed = time.perf_counter() - t0
    from hushframe.core.atomic import write_json_atomic

    write_json_atomic(output / "demo-results.json", {
        # the steps that made the models used here (an earlier run's when reused), never merely the flags
        "seconds": elapsed, "teacher_steps": ran_teacher, "distill_steps": ran_student, "from_scratch": from_scratch,
        "reused_models": [str(p) for p in reused],
        "quality": [{"what": r.label, "psnr": r.psnr, "ssim": r.ssim} for r in (base, t_res, s_res)],
        "stream": deployed["stats"].summary() if deployed else None,
        "parity_passed": deployed["parity"].passed if deployed else None})
    console.print(f"[bold green]demo finished in {elapsed:.0f} s[/] (everything is in {output}/)")


def reused_steps(console, model: Path, requested: int, flag: str):
    """Steps that made ``model`` in an earlier demo run in the same folder (it is reused), or None (train it)."""
    if not model.exists():
        return None
    from hushframe.core.manifest import read_manifest

    made = ((read_manifest(model) or {}).get("settings") or {}).get("iterations")
    note = "" if made == requested else f"; {flag} {requested} is not applied"
    console.print(f"[yellow]reusing {model} from an earlier demo run ({made if made is not None else 'unknown'} "
                  f"steps{note}); use a new -o folder, or delete {model.parent}, to train again[/]")
    return made if made is not None else "unknown"


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
    from ..data.simulator import CameraParams, simulate_pair
    from ..data.synthetic import synthetic_scenes

    rng = np.random.default_rng(2024)
    cam = CameraParams(shot=4e-3, read=0.016, wb_red=2.0, wb_blue=1.6)  # one fixed camera, high gain (low light)
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
