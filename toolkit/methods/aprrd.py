"""APR-RD: Adjacent Pixel Replacer + Recharged Distillation (Kim and Cho, AAAI 2025).

Paper: "Self-supervised denoising of real sRGB images via Adjacent Pixel Replacer and
Recharged Distillation" (../shared/papers/aprrd-aaai2025.md). Equations implemented:

* APR sampler H(y) = (h1(y), h2(y)) ("Scale-Preserving Sampling"): a 3x3 window traverses
  every pixel; two *different* positions of the window are drawn at random per pixel and
  their values become pixel (i, j) of h1(y) and h2(y) (same draw for all colour channels).
* Teacher objective, Eq. 6 (L1 form of Eq. 4 plus the NBR2NBR regulariser, Eq. 5), with the
  AT-BSN teacher at shift s = 5 (blind spot k = 9):

      L_APR = |f_5(h1(y)) - h2(y)|_1 + lambda * |f_5(h1(y)) - h2(y) - (h1(sg f_5(y)) - h2(sg f_5(y)))|_1

  lambda = 4 (Table 2). h1/h2 of the stop-gradient output use the *same* draw as for y.
* Recharged Distillation, Eqs. 7-9: pixels of y are split at random into j disjoint
  subsets of equal size (masks M_i); subset i overwrites the same pixels of teacher
  target i, T_i = f~_{s=i}(y) (blind spot k = 2i - 1, k = 0 for i = 0):

      x~_i = T_i * (1 - M_i) + y * M_i                       (Eq. 8)
      L_RD = sum_i |f_D(y) - x~_i|_1 ^ 2                      (Eq. 9)

  The squared L1 is taken per image (mean absolute error of the image, squared) and
  averaged over the batch. The targets come from one shared teacher feature pass
  (``ATBSN.forward_many``), as in AT-BSN's multi-teacher distillation.

The student is any registered student (student C in the paper); the teacher is our
``atbsn`` network unchanged, so export/ and runtime/ take both as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.padding import run_padded


def rd_blind_spots(j: int) -> list[int]:
    """Blind spots of T = {f~_{s=0}, ..., f~_{s=j-1}}: k = 2s - 1, and 0 for s = 0."""
    return [0 if s == 0 else 2 * s - 1 for s in range(j)]


def apr_indices(y: torch.Tensor, window: int = 3, generator: torch.Generator | None = None):
    """Two distinct random window positions per pixel: (B, 1, H, W) long tensors in [0, window^2)."""
    b, _, h, w = y.shape
    n = window * window
    i1 = torch.randint(0, n, (b, 1, h, w), device=y.device, generator=generator)
    # i2 = i1 + uniform{1..n-1} (mod n): uniform over the other n-1 positions, never equal to i1.
    i2 = (i1 + torch.randint(1, n, (b, 1, h, w), device=y.device, generator=generator)) % n
    return i1, i2


def window_stack(x: torch.Tensor, window: int = 3) -> torch.Tensor:
    """(B, n, C, H, W): the n = window^2 neighbours of every pixel (reflect padding at borders)."""
    r = window // 2
    _, _, h, w = x.shape
    mode = "reflect" if h > r and w > r else "replicate"
    xp = F.pad(x, (r, r, r, r), mode=mode)
    return torch.stack([xp[:, :, dy:dy + h, dx:dx + w] for dy in range(window) for dx in range(window)], dim=1)


def apr_apply(x: torch.Tensor, idx: torch.Tensor, window: int = 3) -> torch.Tensor:
    """h(x): pixel (i, j) takes the value at window position idx[i, j] (all channels alike)."""
    stack = window_stack(x, window)  # B, n, C, H, W
    b, n, c, h, w = stack.shape
    return stack.gather(1, idx.unsqueeze(1).expand(b, 1, c, h, w)).squeeze(1)


def apr_pair(y: torch.Tensor, window: int = 3, generator: torch.Generator | None = None):
    """(h1(y), h2(y), (i1, i2)) - the APR training pair and the draw that made it."""
    i1, i2 = apr_indices(y, window, generator)
    return apr_apply(y, i1, window), apr_apply(y, i2, window), (i1, i2)


def apr_teacher_loss(teacher, y: torch.Tensor, train_blind_spot: int = 9, lam: float = 4.0,
                     window: int = 3) -> torch.Tensor:
    """Eq. 6: L_rec + lambda * L_reg with the teacher at blind spot k_a (9, i.e. s = 5)."""
    h1, h2, (i1, i2) = apr_pair(y, window)
    pred = teacher(h1, blind_spot=train_blind_spot)
    rec = F.l1_loss(pred, h2)
    if lam == 0:
        return rec
    with torch.no_grad():
        full = teacher(y, blind_spot=train_blind_spot).detach()
        g = apr_apply(full, i1, window) - apr_apply(full, i2, window)
    return rec + lam * F.l1_loss(pred - h2, g)


def recharge_masks(y: torch.Tensor, j: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(j, B, 1, H, W) bool: a random partition of every image's pixels into j equal subsets (Eq. 7).

    Subset sizes differ by at most one pixel when j does not divide H*W.
    """
    b, _, h, w = y.shape
    ranks = torch.rand(b, h * w, device=y.device, generator=generator).argsort(dim=1).argsort(dim=1)
    group = (ranks * j) // (h * w)  # 0..j-1, floor(HW/j) or ceil(HW/j) pixels each
    group = group.view(b, 1, h, w)
    return torch.stack([group == i for i in range(j)])


def recharge(targets: list[torch.Tensor], y: torch.Tensor, generator: torch.Generator | None = None):
    """Eq. 8: x~_i = T_i (1 - M_i) + y M_i for a fresh random partition."""
    masks = recharge_masks(y, len(targets), generator)
    return [torch.where(m, y, t) for m, t in zip(masks, targets)]


def rd_loss(student, teacher, y: torch.Tensor, blind_spots: list[int], recharged: bool = True) -> torch.Tensor:
    """Eq. 9: sum_i (per-image L1 to x~_i)^2, averaged over the batch.

    ``recharged=False`` keeps the squared-L1 sum without recharging (the paper's "D" ablation).
    """
    with torch.no_grad():
        targets = [t.detach() for t in teacher.forward_many(y, blind_spots)]
        if recharged:
            targets = recharge(targets, y)
    multiple = getattr(student, "size_multiple", None) or student.module.size_multiple
    pred = run_padded(student, y, multiple)
    return sum((pred - t).abs().mean(dim=(1, 2, 3)).pow(2).mean() for t in targets)


# ---------------------------------------------------------------- the method (recipe `method = "aprrd"`)
from ..recipe_tables import Key, RecipeError  # noqa: E402
from .registry import Method, register_method  # noqa: E402

TABLE = {
    "lambda": Key(float, 4.0, lambda v: v >= 0, "a non-negative number (the paper's lambda = 4)"),
    "window": Key(int, 3, lambda v: v >= 3 and v % 2 == 1, "an odd number >= 3 (APR window, 3 in the paper)"),
    "recharge": Key(bool, True, None, "true (recharged distillation) or false (plain squared-L1 multi-target)"),
}


def check(recipe: dict) -> None:
    if recipe["teacher"]["train_blind_spot"] == 0:
        raise RecipeError(f"{recipe.get('name', 'recipe')}: 'teacher.train_blind_spot' = 0 makes the APR teacher an "
                          f"identity; allowed: a positive odd number (9 in the paper)")


def train(images, recipe, run_dir, *, device, resume, val_pairs, init_weights, source, quiet):
    """The AT-BSN teacher trained with the APR objective (Eq. 6) at k_a."""
    from ..data.datasets import CropDataset
    from ..training.loop import pick_device, run_stage
    from ..training.validation import make_validator
    from .run import teacher_common

    sec, a = recipe["teacher"], recipe["aprrd"]
    cfg, model = teacher_common(sec, init_weights)
    dev = pick_device(device)
    k_a, lam, win = sec["train_blind_spot"], a["lambda"], a["window"]
    validate = make_validator(val_pairs, "teacher", sec["infer_blind_spot"], sec.get("val_images", 16), dev)
    model.train()
    return run_stage(stage="teacher", run_dir=run_dir, model=model, dataset=CropDataset(images, cfg.crop, cfg.seed),
                     loss_fn=lambda net, y: apr_teacher_loss(net, y, k_a, lam, win), cfg=cfg, device=dev,
                     resume=resume, validate=validate, quiet=quiet,
                     manifest={"command": "train", "source": source or {}, "method": "aprrd",
                               "train_blind_spot": k_a, "infer_blind_spot": sec["infer_blind_spot"],
                               "lambda": lam, "window": win})


def student_objective(recipe, teacher, teacher_path, device, lan_path):
    """Recharged distillation (Eqs. 7-9) over the teachers T_i of distill.teachers."""
    ks, rech = list(recipe["distill"]["teachers"]), recipe["aprrd"]["recharge"]
    return (lambda net, y: rd_loss(net, teacher, y, ks, rech)), {"teachers": ks, "recharge": rech}, {}


METHOD = register_method(Method(
    name="aprrd", summary="APR-RD (AAAI 2025): AT-BSN teacher with APR, recharged distillation",
    train=train, distill_loss=student_objective, tables={"aprrd": TABLE}, check=check, init_from_teacher=True))
