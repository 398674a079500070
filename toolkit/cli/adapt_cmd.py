"""`hushframe adapt`: tune a deployed student to a new camera from its own noisy frames."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them


@app.command("adapt", rich_help_panel="Training")
def adapt_cmd(
    data: List[Path] = typer.Argument(..., help="The new camera's noisy frames: folders, images or videos."),
    student: Optional[Path] = typer.Option(None, "--student", "-s", help="Deployed student weights (.safetensors; import "
                                           "published ones first). With --temporal: a CPU student the temporal "
                                           "student's refiner starts from (optional)."),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder."),
    teacher: Optional[str] = typer.Option(
        None, "--teacher", "-t",
        help="What the student learns from (a teacher spec, see `hushframe distill --help`): an FFmpeg filter or an "
             "ensemble of them ('0.7*ffmpeg:nlmeans=s=4+0.3*ffmpeg:dctdnoiz=sigma=4', the recipe default), "
             "'labels:DIR' from `hushframe label`, 'atbsn' (a blind-spot teacher built from the student C and "
             "fine-tuned first) or 'atbsn:TEACHER.safetensors'. With --temporal: a frame teacher whose labels are "
             "blended into the frame-to-frame targets (route c), e.g. ffmpeg:nlmeans=s=3."),
    recipe: str = typer.Option("adapt", "--recipe", "-r"),
    teacher_steps: Optional[int] = typer.Option(None, help="Teacher fine-tuning iterations (atbsn teachers only)."),
    distill_steps: Optional[int] = typer.Option(None, help="Distillation iterations."),
    crop: Optional[int] = typer.Option(None, help="Crop for both stages."),
    batch: Optional[int] = typer.Option(None),
    lr: Optional[float] = typer.Option(None, help="Distillation learning rate."),
    anchor: Optional[float] = typer.Option(None, help="Share of the deployed student's own output in the target, "
                                                      "0 <= a < 1 (recipe: 0.2)."),
    pairs: Optional[Path] = typer.Option(None, "--pairs", "-p", help="Paired set: PSNR before and after; the better model ships."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N pairs for the before/after report."),
    val_pairs: Optional[Path] = typer.Option(None, "--val", help="Paired set for the learning curve (validation PSNR during training)."),
    device: str = typer.Option("auto"),
    resume: bool = typer.Option(False, "--resume"),
    temporal: bool = typer.Option(False, "--temporal", help="Learn a temporal (video) student from the camera's noisy "
                                  "video: frame-to-frame Noise2Noise along the motion, no clean frames."),
    size: str = typer.Option("fast", help="--temporal: the refiner's size class, fast (cpu-fast's) or mid (cpu-mid's)."),
    minutes: Optional[float] = typer.Option(25.0, help="--temporal: time budget; training stops when it is spent."),
    max_frames: int = typer.Option(300, help="--temporal: frames read per clip."),
    teacher_weight: float = typer.Option(0.5, help="--temporal --teacher: the labels' share of each target."),
):
    """Fine-tune a deployed student to a new camera from its own noisy frames; ships only if no worse.

    With --temporal: learn a temporal student for video from the camera's own noisy clips (video
    files or folders of consecutive frames), one command per camera: each frame's future neighbours,
    moved onto it along the motion, are its Noise2Noise targets (README: video workflow).

    The student learns, from its own weights, what a teacher does on this camera's frames
    (by default an ensemble of FFmpeg's nlmeans and dctdnoiz, run once per frame, mixed with
    a share of the deployed student's own output: --anchor). With
    --pairs the better of before/after becomes RUN/student.safetensors and the report says
    which; without pairs a no-reference check runs on held-out strips of your frames
    (adapt-report.json says what it can and cannot tell).

    Examples:

      hushframe import-weights aprrd-student-c-1.00m-sidd.pth -o sidd-student.safetensors

      hushframe adapt camera-frames/ --student sidd-student.safetensors -o runs/cam1 --pairs polyu-dev/

      # label on a machine with FFmpeg (PyAV), train on a GPU machine without it:

      hushframe label camera-frames/ --teacher "0.7*ffmpeg:nlmeans=s=4+0.3*ffmpeg:dctdnoiz=sigma=4" -o labels/

      hushframe adapt camera-frames/ -s sidd-student.safetensors -t labels:labels/ -o runs/cam1 --device cuda

      hushframe adapt clip.mp4 -s student.safetensors -t atbsn -o runs/cam2 --teacher-steps 500

      # video: a temporal student from the camera's own noisy footage
      hushframe adapt camera.mp4 --temporal -o runs/cam1 --minutes 25

      # ... with a spatial filter's labels blended into the frame-to-frame targets (route c)
      hushframe adapt camera.mp4 --temporal --teacher ffmpeg:nlmeans=s=3 -o runs/cam1
    """
    if temporal:
        from .temporal_run import run_temporal

        return run_temporal(data, output, student=student, size=size, minutes=minutes, steps=distill_steps,
                            batch=batch, crop=crop, lr=lr, seed=None, max_frames=max_frames, resume=resume,
                            teacher=teacher, teacher_weight=teacher_weight, command="hushframe adapt --temporal")
    if student is None:
        raise typer.BadParameter("give the deployed student: --student student.safetensors", param_hint="--student")
    import os

    import torch

    from hushframe.core.atomic import write_json_atomic
    from ..data.datasets import load_noisy_images
    from hushframe.core.pairs import find_pairs
    from ..recipes import apply_overrides, load_recipe
    from ..training.adapt import adapt, judge, split_holdout
    from ..training.loop import pick_device

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(os.cpu_count() or 1)
    r = load_recipe(recipe)
    apply_overrides(r, "teacher", {"iterations": teacher_steps, "crop": crop, "batch": batch})
    apply_overrides(r, "distill", {"iterations": distill_steps, "crop": crop, "batch": batch, "lr": lr,
                                "anchor": anchor})
    dev = pick_device(device)
    ps = find_pairs(pairs)[: limit or None] if pairs else None
    vps = find_pairs(val_pairs) if val_pairs else None
    images = load_noisy_images(data, crop=max(r["teacher"]["crop"], r["distill"]["crop"]),
                               warn=lambda m: typer.echo(f"warning: {m}", err=True))
    held = []
    spec = teacher or r["distill"]["teacher"] or "atbsn"
    # A labels folder covers whole frames (keyed by their pixels): nothing can be held out of it.
    if not ps and not spec.startswith("labels:"):
        images, held = split_holdout(images, r["distill"]["crop"])
    out = adapt(images, r, student, output, teacher=spec, device=dev, resume=resume, val_pairs=vps)
    # The reference for the held-out check is the teacher the user named (without the anchor).
    ref_teacher = _frame_teacher(spec) if held else None
    verdict = judge(student, out["student"], output, pairs=ps, held_out=held, teacher=ref_teacher, device=dev)
    report = {"student_before": str(student), "student_adapted": str(out["student"]), "teacher": str(out["teacher"]),
              "data": [str(d) for d in data], "distill_steps": r["distill"]["iterations"], **verdict}
    if ps:
        report["pairs"] = str(pairs)
        b, a = verdict["before"], verdict["after"]
        typer.echo(f"before: {b['psnr']:.3f} dB / SSIM {b['ssim']:.4f} on {len(ps)} pairs")
        typer.echo(f"after:  {a['psnr']:.3f} dB / SSIM {a['ssim']:.4f}  ({verdict['gain_db']:+.3f} dB)")
    elif "no_reference" in verdict:
        for k in ("before", "after"):
            v = verdict["no_reference"][k]
            typer.echo(f"{k} (held-out strips, no reference): residual noise {v['residual_noise']:.2f}, residual "
                       f"structure {v['residual_structure']:.3f}" + (f", teacher PSNR {v['teacher_psnr']:.2f} dB" if "teacher_psnr" in v else ""))
    typer.echo(verdict["why"])
    write_json_atomic(Path(output) / "adapt-report.json", report)
    typer.echo(f"student to ship: {verdict['student']}  (report: {Path(output) / 'adapt-report.json'})")


def _frame_teacher(spec: str):
    """The teacher as a function on uint8 frames, for the no-reference check (frame teachers only)."""
    from ..teachers import build_teacher, parse_teacher

    terms = parse_teacher(spec).terms
    if not all(t.on_frames for t in terms):
        return None
    runners = [(t.weight, build_teacher(t)) for t in terms]

    def run(y):
        import numpy as np

        acc = sum(w * r.label_image(y).astype(np.float64) for w, r in runners)
        return np.clip(np.round(acc), 0, 255).astype(np.uint8)

    return run


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
