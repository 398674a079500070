"""`hushframe train` (teacher) and `hushframe distill` (student), for every recipe method (methods/run.py)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..teachers import kinds_usage

EXIT_PAUSED = 3  # train stopped at its time budget (max_minutes); --resume continues

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them

_DATA_HELP = "Noisy images: folders (PNG/JPEG/TIFF, SIDD-Medium layout), image files, videos or SIDD .mat blocks."


def _recipe(recipe, section, overrides, sets):
    from ..recipes import apply_overrides, load_recipe, parse_set

    r = load_recipe(recipe)
    for sec, vals in parse_set(sets).items():
        if sec not in r or not isinstance(r[sec], dict):
            from ..recipes import RecipeError

            raise RecipeError(f"--set: unknown table '{sec}'")
        apply_overrides(r, sec, vals, "--set")
    return apply_overrides(r, section, overrides)


def _val_pairs(pairs: Optional[Path], clean: Optional[Path]):
    if pairs is None:
        return None
    from hushframe.core.pairs import find_pairs

    return find_pairs(pairs, clean)


def _threads():
    import os

    import torch

    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(os.cpu_count() or 1)


@app.command("train", rich_help_panel="Training")
def train(
    data: List[Path] = typer.Argument(..., help=_DATA_HELP),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder (checkpoints, logs, teacher.safetensors)."),
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r", help="Recipe name (atbsn-sidd, quick-cpu, ...) or .toml path."),
    iterations: Optional[int] = typer.Option(None, help="Training steps."),
    batch: Optional[int] = typer.Option(None, help="Batch size."),
    crop: Optional[int] = typer.Option(None, help="Square crop size."),
    lr: Optional[float] = typer.Option(None, help="Adam learning rate (cosine decay to 0)."),
    width: Optional[int] = typer.Option(None, help="UNet width (48 in the paper)."),
    levels: Optional[int] = typer.Option(None, help="Poolings (5 in the paper)."),
    blind_spot: Optional[int] = typer.Option(None, "--blind-spot", help="k_a, training blind spot (9)."),
    infer_blind_spot: Optional[int] = typer.Option(None, "--infer-blind-spot", help="k_b stored with the model (3)."),
    seed: Optional[int] = typer.Option(None, help="Random seed."),
    checkpoint_every: Optional[int] = typer.Option(None, help="Steps between checkpoints."),
    val_pairs: Optional[Path] = typer.Option(None, "--val", help="Paired set for validation PSNR at k_b."),
    val_clean: Optional[Path] = typer.Option(None, "--val-clean", help="Ground-truth folder when --val holds noisy images only."),
    init: Optional[Path] = typer.Option(None, help="Start from these teacher weights (fine-tuning)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N"),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --output at its last checkpoint."),
    set_: List[str] = typer.Option([], "--set", help="Any recipe value, e.g. --set teacher.log_every=10."),
):
    """Train the AT-BSN teacher self-supervised on noisy images only (L1 at blind spot k_a).

    The recipe's method picks the self-supervised stage(s), all in the --output folder:
    atbsn (teacher.safetensors), aprrd (AT-BSN teacher with the APR loss),
    bnn-lan (BNN = teacher at k_a = k_b = 9, then lan.safetensors; --resume skips a finished BNN),
    amsnet (amsnet.safetensors, the masked pixel-shuffle denoiser).

    Examples:

      hushframe train photos/ -o runs/cam1 --recipe quick-cpu

      hushframe train SIDD_Medium_Srgb/Data -o runs/sidd --recipe atbsn-sidd --val SIDD_val/

      torchrun --nproc_per_node 4 -m hushframe.toolkit.cli.main train data/ -o runs/ddp --recipe atbsn-sidd

      hushframe train photos/ -o runs/cam1 --resume

      hushframe train photos/ -o runs/apr --recipe aprrd

      # a long schedule in pieces: stop with a checkpoint after 4 minutes (exit 3), later continue

      hushframe train photos/ -o runs/long --recipe atbsn-sidd --set teacher.max_minutes=4 [--resume]
    """
    _threads()
    from ..data.datasets import load_noisy_images
    from ..methods.registry import get_method
    from ..methods.run import train_recipe
    from ..training.loop import TrainingPaused

    r = _recipe(recipe, "teacher", dict(iterations=iterations, batch=batch, crop=crop, lr=lr, width=width, levels=levels,
                                        train_blind_spot=blind_spot, infer_blind_spot=infer_blind_spot, seed=seed,
                                        checkpoint_every=checkpoint_every), set_)
    crop = max(r[t]["crop"] for t in get_method(r["method"]).train_tables)
    images = load_noisy_images(data, crop=crop, warn=lambda m: typer.echo(f"warning: {m}", err=True))
    typer.echo(f"teacher: {len(images)} noisy images, recipe {r['name']} ({r['method']}), {r['teacher']['iterations']} iterations")
    try:
        out = train_recipe(images, r, output, device=device, resume=resume, val_pairs=_val_pairs(val_pairs, val_clean),
                           init_weights=init, source={"data": [str(d) for d in data], "recipe": r["name"]})
    except TrainingPaused as e:  # a planned stop (max_minutes), not a failure: exit 3, resumable
        typer.echo(str(e))
        raise typer.Exit(EXIT_PAUSED)
    typer.echo(f"{'teacher' if r['method'] == 'atbsn' else r['method']} weights: {out}")


@app.command("distill", rich_help_panel="Training")
def distill(
    data: List[Path] = typer.Argument(..., help=_DATA_HELP),
    teacher: Optional[str] = typer.Option(None, "--teacher", "-t", help="Teacher weights (.safetensors) from `hushframe train` "
                                          "(amsnet: amsnet.safetensors; bnn-lan: the BNN's teacher.safetensors), or a teacher "
                                          f"spec: {kinds_usage()}, or a weighted sum such as "
                                          "0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4 (default: the recipe's distill.teacher)."),
    output: Path = typer.Option(..., "-o", "--output", help="Run folder (student.safetensors goes here)."),
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r", help="Recipe name or .toml path."),
    student: Optional[str] = typer.Option(None, help="student_a | student_b | student_c | a CPU student (see README)"),
    width: Optional[int] = typer.Option(None, help="Student width (48 for the paper's students)."),
    teachers: Optional[str] = typer.Option(None, help="Blind spots Ks, comma separated (0,1,3,5,7,9,11)."),
    mode: Optional[str] = typer.Option(None, help="multi (sum of L1 to each teacher) | mean (L1 to the mean)."),
    init_from_teacher: Optional[bool] = typer.Option(None, "--init-from-teacher/--no-init-from-teacher",
                                                      help="Copy the teacher's UNet weights into student C first (S6)."),
    iterations: Optional[int] = typer.Option(None), batch: Optional[int] = typer.Option(None),
    crop: Optional[int] = typer.Option(None), lr: Optional[float] = typer.Option(None), seed: Optional[int] = typer.Option(None),
    checkpoint_every: Optional[int] = typer.Option(None),
    val_pairs: Optional[Path] = typer.Option(None, "--val", help="Paired set for validation PSNR."),
    val_clean: Optional[Path] = typer.Option(None, "--val-clean"),
    init: Optional[Path] = typer.Option(None, help="Start from these student weights (fine-tuning)."),
    lan: Optional[Path] = typer.Option(None, "--lan", help="bnn-lan only: LAN weights (default: lan.safetensors beside --teacher)."),
    device: str = typer.Option("auto"),
    resume: bool = typer.Option(False, "--resume"),
    set_: List[str] = typer.Option([], "--set"),
    temporal: bool = typer.Option(False, "--temporal", help="A temporal (video) student from noisy video alone: "
                                  "frame-to-frame Noise2Noise along the motion; --teacher: a frame teacher's labels blended in."),
    size: str = typer.Option("fast", help="--temporal: the refiner's size class, fast or mid."),
    minutes: Optional[float] = typer.Option(25.0, help="--temporal: time budget; training stops when it is spent."),
    max_frames: int = typer.Option(300, help="--temporal: frames read per clip."),
    teacher_weight: float = typer.Option(0.5, help="--temporal --teacher: the labels' share of each target."),
):
    """Distill a non-blind student from many blind-spot teachers sharing one feature pass.

    Other recipe methods: aprrd (recharged distillation over the same teachers),
    bnn-lan (flatness-weighted L1 to the BNN and the LAN), amsnet (L1 to the masked denoiser).

    L = sum_k |student(y) - sg(teacher(y; k))|_1 over k in Ks; the teacher's four rotated
    UNet passes run once per batch, only the shift and 1x1 fusion run per k.

    Examples:

      hushframe distill photos/ -t runs/cam1/teacher.safetensors -o runs/cam1 --recipe quick-cpu

      hushframe distill photos/ -t teacher.safetensors -o runs/a --student student_a --mode mean

      hushframe distill photos/ -t runs/bl/teacher.safetensors -o runs/bl --recipe bnn-lan

    Any other teacher (toolkit/teachers): L = |student(y) - sum_t w_t T_t(y)|_1. Frame
    teachers (FFmpeg filters through PyAV, BM3D, a deployed student.onnx or .xml) label each
    whole photo once, cached as PNGs in OUTPUT/labels/ (resumable); weights files run on
    every crop:

      hushframe distill photos/ --teacher ffmpeg:nlmeans=s=3 --init student.safetensors -o runs/nlm

      hushframe distill photos/ -t "0.6*ffmpeg:nlmeans=s=3+0.4*student:big.safetensors" --student student_a -o runs/a

      hushframe distill photos/ --teacher labels:labels-nlm/ -o runs/gpu   # labels from `hushframe label`

      hushframe distill photos/ -t "0.8*ffmpeg:nlmeans=s=3+0.2*student:big-int8.xml" --student student_cpu -o runs/c

    Video (--temporal): a temporal student from a camera's noisy clips, from scratch or --init CPU student:

      hushframe distill camera.mp4 --temporal -o runs/cam1 --minutes 25
    """
    _threads()
    if temporal:
        from .temporal_run import run_temporal

        return run_temporal(data, output, student=init, size=size, minutes=minutes, steps=iterations, batch=batch,
                            crop=crop, lr=lr, seed=seed, max_frames=max_frames, resume=resume,
                            teacher=teacher, teacher_weight=teacher_weight, command="hushframe distill --temporal")
    from ..data.datasets import load_noisy_images
    from ..methods.run import distill_recipe

    ks = [int(k) for k in teachers.split(",")] if teachers else None
    r = _recipe(recipe, "distill", dict(student=student, width=width, teachers=ks, mode=mode, init_from_teacher=init_from_teacher,
                                        iterations=iterations, batch=batch, crop=crop, lr=lr, seed=seed,
                                        checkpoint_every=checkpoint_every), set_)
    spec, teacher_file = _teacher_spec(teacher or r["distill"]["teacher"], r)
    images = load_noisy_images(data, crop=r["distill"]["crop"], warn=lambda m: typer.echo(f"warning: {m}", err=True))
    if spec is not None:
        from ..methods.atbsn import distill_student

        typer.echo(f"distill: {len(images)} noisy images, {init or r['distill']['student']}, teacher {spec.text} (L1)")
        out = distill_student(images, r["distill"], spec, output, device=device, resume=resume,
                              val_pairs=_val_pairs(val_pairs, val_clean), init_weights=init,
                              source={"data": [str(d) for d in data], "recipe": r["name"]})
        typer.echo(f"student weights: {out}")
        return
    teacher = teacher_file
    typer.echo(f"distill: {len(images)} noisy images, {r['distill']['student']}, Ks={r['distill']['teachers']} ({r['distill']['mode']})")
    out = distill_recipe(images, r, teacher, output, device=device, resume=resume,
                         val_pairs=_val_pairs(val_pairs, val_clean), init_weights=init,
                         source={"data": [str(d) for d in data], "recipe": r["name"]}, lan_path=lan)
    typer.echo(f"student weights: {out}")


def _teacher_spec(teacher: str, recipe: dict):
    """(None, teacher file) for today's path (the recipe method's own distillation); else (spec, None)."""
    if not teacher:
        raise typer.BadParameter("give the teacher: a teacher file or a spec such as ffmpeg:nlmeans=s=3 "
                                 "(or set distill.teacher in the recipe)", param_hint="--teacher")
    from ..teachers import load_kinds, parse_teacher

    as_spec = any((teacher == k.name and not k.arg) or teacher.startswith(f"{k.name}:") for k in load_kinds().values())
    if recipe["method"] != "atbsn" and not as_spec:
        return None, Path(teacher)  # method teachers (amsnet.safetensors, the BNN) keep their own distillation
    spec = parse_teacher(teacher)
    return (None, Path(spec.terms[0].arg)) if spec.plain_atbsn else (spec, None)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
