"""AT-BSN objectives (Chen et al., CVPR 2024).

* Teacher, Eq. 6:  L_self = || Conv1x1(F_theta(y; s_a)) - y ||_1 with k_a = 2 s_a - 1 (9).
* Multi-teacher distillation, Sec. 3.4:
      L = sum_{k in Ks} || N(y) - sg(T(y; k)) ||_1
  where all T(.; k) share one feature extraction (teacher.forward_many), so a step costs
  4 UNet passes + |Ks| x (shift + 1x1 convs) + the student, not |Ks| full teachers.
* Mean-teacher distillation (Tab. 3 comparison): || N(y) - sg(mean_k T(y; k)) ||_1.

The two stages, ``train_teacher`` and ``distill_student`` (which also takes any teacher spec,
``toolkit/teachers``), run on the shared training loop (training/loop.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.padding import run_padded


def teacher_loss(teacher, y: torch.Tensor, train_blind_spot: int = 9) -> torch.Tensor:
    return F.l1_loss(teacher(y, blind_spot=train_blind_spot), y)


def teacher_targets(teacher, y: torch.Tensor, blind_spots: list[int]) -> list[torch.Tensor]:
    with torch.no_grad():
        return [t.detach() for t in teacher.forward_many(y, blind_spots)]


def distill_loss(student, teacher, y: torch.Tensor, blind_spots: list[int], mode: str = "multi") -> torch.Tensor:
    targets = teacher_targets(teacher, y, blind_spots)
    multiple = getattr(student, "size_multiple", None) or student.module.size_multiple
    pred = run_padded(student, y, multiple)
    if mode == "mean":
        return F.l1_loss(pred, torch.stack(targets).mean(0))
    return sum(F.l1_loss(pred, t) for t in targets)


def naive_distill_loss(student, teacher, y, blind_spots, mode="multi"):
    """One full teacher pass per k: the cost the shared-feature form avoids (benchmark only)."""
    with torch.no_grad():
        targets = [teacher(y, blind_spot=k).detach() for k in blind_spots]
    pred = run_padded(student, y, student.size_multiple)
    return sum(F.l1_loss(pred, t) for t in targets)


# ---------------------------------------------------------------- the stages
# The CLI, the demo, the benchmarks and other methods (BNN-LAN's BNN is this teacher) call these;
# recipes and command-line overrides arrive already merged into the ``section`` dict (recipes.py).
from pathlib import Path  # noqa: E402

from ..training.loop import StageConfig, pick_device, run_stage  # noqa: E402


def train_teacher(images, section: dict, run_dir: Path, *, device="auto", resume=False, val_pairs=None,
                  init_weights: Path | None = None, source: dict | None = None, quiet=False) -> Path:
    import torch

    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.validation import make_validator

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
        from ..recipe_tables import RecipeError

        raise RecipeError(f"distill.loss = {section['loss']!r}: an AT-BSN teacher distils with the paper's L1 "
                          "multi-teacher loss; loss applies to teacher specs (ffmpeg:, student:, labels:, sums)")

    from ..data.datasets import CropDataset
    from ..training.students import student_from_section
    from ..training.validation import make_validator
    from ..weights import load_model

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


# ---------------------------------------------------------------- the method (recipe `method = "atbsn"`)
from .registry import Method, register_method  # noqa: E402


def train(images, recipe, run_dir, **kw):
    """The teacher, L1 at k_a (Eq. 6)."""
    return train_teacher(images, recipe["teacher"], run_dir, **kw)


def distill(images, recipe, teacher_path, run_dir, **kw):
    """Multi-teacher (or mean-teacher) distillation from one shared feature pass."""
    return distill_student(images, recipe["distill"], teacher_path, run_dir, **kw)


METHOD = register_method(Method(
    name="atbsn", summary="AT-BSN (CVPR 2024): asymmetric blind-spot teacher, multi-teacher distillation",
    train=train, distill=distill))
