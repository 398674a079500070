"""Adapt a deployed denoiser to a new camera from that camera's own noisy frames.

A non-blind student cannot learn from noisy frames alone (it would learn the identity),
so adaptation goes through a blind-spot teacher, as in training:

1. teacher: the given teacher, or one built from the student itself (student C has the
   teacher's UNet layout, so its weights seed the half-plane UNet; only the last decoder
   conv and the 1x1 fusion start fresh), fine-tuned self-supervised at k_a on the frames;
2. student: distilled from the adapted teacher's blind-spot family, starting from the
   deployed student's weights.

Before/after PSNR on a paired set (when given) shows what the camera gained.
"""

from __future__ import annotations

from pathlib import Path


def teacher_from_student(student, width_levels=None):
    """An AT-BSN teacher whose UNet is initialised from a student C's weights."""
    import torch

    from ..models import create_model

    cfg = student.config
    levels = cfg.get("levels") or {"c": 5}.get(cfg.get("variant"), 5)
    if cfg.get("variant") != "c":
        raise ValueError(f"adapting without a teacher needs a student C (this is student {cfg.get('variant')}); pass --teacher")
    teacher = create_model("atbsn", width=cfg.get("width", 48), levels=levels)
    src = student.unet.state_dict()
    with torch.no_grad():
        for name, t in teacher.unet.state_dict().items():
            if name in src and src[name].shape == t.shape:
                t.copy_(src[name])
    return teacher


def adapt(images, recipe: dict, student_path: Path, run_dir: Path, *, teacher_path: Path | None = None,
          device="auto", resume=False, val_pairs=None, quiet=False) -> dict:
    from ..weights import load_model, save_model
    from .stages import distill_student, train_teacher

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    student = load_model(student_path, expect_kind="student")
    if teacher_path is None:
        seed_teacher = run_dir / "teacher-init.safetensors"
        if not seed_teacher.exists():
            save_model(teacher_from_student(student), seed_teacher)
        teacher_path = seed_teacher
    t_sec = dict(recipe["teacher"])
    tm = load_model(teacher_path, expect_kind="teacher")
    t_sec.update(width=tm.config["width"], levels=tm.config["levels"])
    d_sec = dict(recipe["distill"])
    d_sec.update(student=student.arch, width=student.config.get("width", 48),
                 levels=student.config.get("levels", 0), init_from_teacher=False)
    teacher = run_dir / "teacher.safetensors"
    if not teacher.exists():
        teacher = train_teacher(images, t_sec, run_dir, device=device, resume=resume, val_pairs=val_pairs,
                                init_weights=teacher_path, quiet=quiet, source={"adapted_from": str(teacher_path)})
    out = run_dir / "student.safetensors"
    if not out.exists():
        out = distill_student(images, d_sec, teacher, run_dir, device=device, resume=resume, val_pairs=val_pairs,
                              init_weights=student_path, quiet=quiet, source={"adapted_from": str(student_path)})
    return {"teacher": teacher, "student": out}
