"""AT-BSN objectives (Chen et al., CVPR 2024).

* Teacher, Eq. 6:  L_self = || Conv1x1(F_theta(y; s_a)) - y ||_1 with k_a = 2 s_a - 1 (9).
* Multi-teacher distillation, Sec. 3.4:
      L = sum_{k in Ks} || N(y) - sg(T(y; k)) ||_1
  where all T(.; k) share one feature extraction (teacher.forward_many), so a step costs
  4 UNet passes + |Ks| x (shift + 1x1 convs) + the student, not |Ks| full teachers.
* Mean-teacher distillation (Tab. 3 comparison): || N(y) - sg(mean_k T(y; k)) ||_1.
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


# ---------------------------------------------------------------- the method (recipe `method = "atbsn"`)
from .registry import Method, register_method  # noqa: E402


def train(images, recipe, run_dir, **kw):
    """The teacher, L1 at k_a (Eq. 6): training/stages.py."""
    from ..training.stages import train_teacher

    return train_teacher(images, recipe["teacher"], run_dir, **kw)


def distill(images, recipe, teacher_path, run_dir, **kw):
    """Multi-teacher (or mean-teacher) distillation from one shared feature pass: training/stages.py."""
    from ..training.stages import distill_student

    return distill_student(images, recipe["distill"], teacher_path, run_dir, **kw)


METHOD = register_method(Method(
    name="atbsn", summary="AT-BSN (CVPR 2024): asymmetric blind-spot teacher, multi-teacher distillation",
    train=train, distill=distill))
