"""`hushframe adapt`: tune a deployed student to a new camera from its own noisy frames."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from .main import app


@app.command("adapt", rich_help_panel="Training")
def adapt_cmd(
    data: List[Path] = typer.Argument(..., help="The new camera's noisy frames: folders, images or videos."),
    student: Path = typer.Option(..., "--student", "-s", help="Deployed student weights (.safetensors; import published ones first)."),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder."),
    teacher: Optional[Path] = typer.Option(None, "--teacher", "-t", help="Teacher to fine-tune; default: built from the student C's own weights."),
    recipe: str = typer.Option("adapt", "--recipe", "-r"),
    teacher_steps: Optional[int] = typer.Option(None, help="Teacher fine-tuning iterations."),
    distill_steps: Optional[int] = typer.Option(None, help="Distillation iterations."),
    crop: Optional[int] = typer.Option(None, help="Crop for both stages."),
    batch: Optional[int] = typer.Option(None),
    pairs: Optional[Path] = typer.Option(None, "--pairs", "-p", help="Paired set: PSNR before and after."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N pairs for the before/after report."),
    device: str = typer.Option("auto"),
    resume: bool = typer.Option(False, "--resume"),
):
    """Fine-tune a student to a new camera: adapt a blind-spot teacher on the camera's noisy
    frames, then distill into the deployed student, and report PSNR before and after.

    Examples:

      hushframe import-weights aprrd-student-c-1.00m-sidd.pth -o sidd-student.safetensors

      hushframe adapt camera-frames/ --student sidd-student.safetensors -o runs/cam1 --pairs polyu-dev/

      hushframe adapt clip.mp4 -s student.safetensors -t teacher.safetensors -o runs/cam2 --teacher-steps 500
    """
    import os

    import torch

    from ..atomic import write_json_atomic
    from ..data.datasets import load_noisy_images
    from ..data.pairs import find_pairs
    from ..eval.evaluate import evaluate
    from ..recipes import apply_overrides, load_recipe
    from ..training.adapt import adapt
    from ..training.loop import pick_device
    from ..weights import load_model

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(os.cpu_count() or 1)
    r = load_recipe(recipe)
    apply_overrides(r, "teacher", {"iterations": teacher_steps, "crop": crop, "batch": batch})
    apply_overrides(r, "distill", {"iterations": distill_steps, "crop": crop, "batch": batch})
    dev = pick_device(device)
    ps = find_pairs(pairs)[: limit or None] if pairs else None
    before = None
    if ps:
        before, _ = evaluate(load_model(student, str(dev)), ps, dev, label="before")
        typer.echo(f"before: {before.psnr:.3f} dB / SSIM {before.ssim:.4f} on {len(ps)} pairs")
    images = load_noisy_images(data, crop=r["teacher"]["crop"], warn=lambda m: typer.echo(f"warning: {m}", err=True))
    out = adapt(images, r, student, output, teacher_path=teacher, device=dev, resume=resume)
    report = {"student_before": str(student), "student_after": str(out["student"]), "teacher": str(out["teacher"]),
              "data": [str(d) for d in data], "teacher_steps": r["teacher"]["iterations"],
              "distill_steps": r["distill"]["iterations"]}
    if ps:
        after, _ = evaluate(load_model(out["student"], str(dev)), ps, dev, label="after")
        report.update(pairs=str(pairs), images=len(ps), before={"psnr": before.psnr, "ssim": before.ssim},
                      after={"psnr": after.psnr, "ssim": after.ssim}, gain_db=after.psnr - before.psnr)
        typer.echo(f"after:  {after.psnr:.3f} dB / SSIM {after.ssim:.4f}  ({after.psnr - before.psnr:+.3f} dB)")
    write_json_atomic(Path(output) / "adapt-report.json", report)
    typer.echo(f"adapted student: {out['student']}  (report: {Path(output) / 'adapt-report.json'})")
