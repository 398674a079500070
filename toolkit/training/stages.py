"""The two AT-BSN stages as functions: ``train_teacher`` and ``distill_student``.

The CLI, the demo and the benchmarks call these; recipes and command-line overrides
arrive already merged into the ``section`` dict (see ``recipes.py``).
"""

from __future__ import annotations

from pathlib import Path

from .loop import StageConfig, run_stage


def student_from_section(section: dict):
    """A fresh student as the [distill] section describes it (student, width, levels, student_options)."""
    from ..models import create_model
    from ..recipes import RecipeError

    levels = {"levels": section["levels"]} if section.get("levels") else {}
    options = dict(section.get("student_options") or {})
    if {"width", "levels"} & set(options):
        raise RecipeError("distill.student_options: set width and levels as distill.width / distill.levels")
    student = create_model(section["student"], width=section["width"], **levels, **options)
    unknown = sorted(set(options) - set(getattr(student, "config", {})))
    if unknown:  # builders swallow unknown keywords; a typo must not train the wrong network for hours
        raise RecipeError(f"distill.student_options: {', '.join(unknown)} not settings of {section['student']} "
                          f"(its settings: {', '.join(sorted(getattr(student, 'config', {})))})")
    return student


def make_validator(pairs, kind: str, blind_spot: int | None, max_images: int, device):
    """PSNR/SSIM on the first ``max_images`` pairs (student, or teacher at k_b)."""
    if not pairs:
        return None
    import numpy as np

    from ..eval.denoise import denoise_uint8
    from hushframe.core.metrics import psnr, ssim

    loaded = [p.load() for p in pairs[:max_images]]

    def validate(model):
        was = model.training
        model.eval()
        ps, ss = [], []
        for noisy, clean in loaded:
            out = denoise_uint8(model, noisy, device=device, blind_spot=blind_spot if kind == "teacher" else None)
            ps.append(psnr(clean, out)); ss.append(ssim(clean, out))
        model.train(was)
        return {"psnr": float(np.mean(ps)), "ssim": float(np.mean(ss))}

    return validate


def train_teacher(images, section: dict, run_dir: Path, *, device="auto", resume=False, val_pairs=None,
                  init_weights: Path | None = None, source: dict | None = None, quiet=False) -> Path:
    import torch

    from ..data.datasets import CropDataset
    from ..methods.atbsn import teacher_loss
    from ..models import create_model
    from .loop import pick_device

    cfg = StageConfig.from_section(section)
    torch.manual_seed(cfg.seed)  # seeded initialisation: same recipe + seed = same run
    if init_weights:
        # Fine-tuning: the network is the one in the file (its width/levels win over the recipe's).
        from ..weights import load_model

        model = load_model(init_weights, expect_kind="teacher")
        model.default_blind_spot = section["infer_blind_spot"]
        model.config["blind_spot"] = section["infer_blind_spot"]
    else:
        model = create_model("atbsn", width=section["width"], levels=section["levels"], blind_spot=section["infer_blind_spot"])
    k_a = section["train_blind_spot"]
    dev = pick_device(device)
    validate = make_validator(val_pairs, "teacher", section["infer_blind_spot"], section.get("val_images", 16), dev)
    model.train()
    return run_stage(stage="teacher", run_dir=run_dir, model=model, dataset=CropDataset(images, cfg.crop, cfg.seed),
                     loss_fn=lambda net, y: teacher_loss(net, y, k_a), cfg=cfg, device=dev, resume=resume,
                     validate=validate, quiet=quiet,
                     manifest={"command": "train", "source": source or {}, "train_blind_spot": k_a,
                               "infer_blind_spot": section["infer_blind_spot"]})


def distill_student(images, section: dict, teacher, run_dir: Path, *, device="auto", resume=False,
                    val_pairs=None, init_weights: Path | None = None, source: dict | None = None, quiet=False) -> Path:
    """Distil ``section["student"]`` (or ``init_weights``) into ``run_dir/student.safetensors``.

    ``teacher``: an AT-BSN teacher file (the paper's multi-teacher loss over section["teachers"],
    as always) or any teacher spec string (``toolkit/teachers``: ``ffmpeg:nlmeans=s=3``,
    ``student:PATH``, ``labels:DIR``, weighted sums), trained with L1 to the teachers' labels.
    """
    import torch

    from ..teachers import parse_teacher

    spec = parse_teacher(teacher)
    if not spec.plain_atbsn:
        from ..teachers.distill import distill_from_teacher

        return distill_from_teacher(images, section, spec, run_dir, device=device, resume=resume, val_pairs=val_pairs,
                                    init_weights=init_weights, source=source, quiet=quiet)
    teacher_path = Path(spec.terms[0].arg)
    if section.get("loss", "l1") != "l1":
        from ..recipes import RecipeError

        raise RecipeError(f"distill.loss = {section['loss']!r}: an AT-BSN teacher distils with the paper's L1 "
                          "multi-teacher loss; loss applies to teacher specs (ffmpeg:, student:, labels:, sums)")

    from ..data.datasets import CropDataset
    from ..methods.atbsn import distill_loss
    from ..weights import load_model
    from .loop import pick_device

    cfg = StageConfig.from_section(section)
    dev = pick_device(device)
    teacher = load_model(teacher_path, device=str(dev), expect_kind="teacher")
    for p in teacher.parameters():
        p.requires_grad_(False)
    teacher.eval()
    if dev.type == "cuda":
        teacher.to(memory_format=torch.channels_last)
    torch.manual_seed(cfg.seed)
    if init_weights:
        student = load_model(init_weights, expect_kind="student")  # its own arch/width/levels
    else:
        student = student_from_section(section)
    if not init_weights and section.get("init_from_teacher"):
        n = student.init_from_teacher(teacher)
        if not quiet:
            print(f"initialised {n} student tensors from the teacher's UNet")
    ks, mode = list(section["teachers"]), section["mode"]
    validate = make_validator(val_pairs, "student", None, section.get("val_images", 16), dev)
    student.train()
    return run_stage(stage="distill", run_dir=run_dir, model=student,
                     dataset=CropDataset(images, cfg.crop, cfg.seed),
                     loss_fn=lambda net, y: distill_loss(net, teacher, y, ks, mode), cfg=cfg, device=dev,
                     resume=resume, validate=validate, final_name="student.safetensors", quiet=quiet,
                     manifest={"command": "distill", "source": {"teacher": str(teacher_path), **(source or {})},
                               "teachers": ks, "mode": mode})
