"""BNN-LAN: spatially adaptive supervision (Li et al., "Spatially Adaptive Self-Supervised
Learning for Real-World Image Denoising", CVPR 2023; ../shared/papers/spatially-adaptive-ssid-cvpr2023.md).

Three networks trained one after another (Sec. 3, Fig. 2):

1. BNN, the blind-neighbourhood network, Eq. 1: L_BNN = |x^_1 - y|_1. Here the BNN *is* our
   AT-BSN teacher trained and applied with a 9x9 blind neighbourhood (k = 9 for training
   and inference; Fig. 6(a): 9x9 is the paper's optimum). No new code: ``train_teacher``.
2. Flatness (Eqs. 2-3): sigma = 7x7 local standard deviation of the BNN output averaged
   over RGB (0-255 units), turned into alpha by the piecewise sigmoid

        alpha = S(sigma - l)   if sigma <= l
                0.5            if l < sigma <= u
                S(sigma - u)   if sigma > u          (l = 1, u = 5; S = sigmoid)

   alpha is high in textured areas.
3. LAN, the locally aware network, Eq. 4: L_LAN = (1 - alpha) |sg(x~_1) - x~_2|_1. Stacked
   3x3 convolutions give a (2m+1)x(2m+1) receptive field (m = 1: 3x3, the paper's best),
   followed by 1x1 blocks with channel attention (RCAN, ref. [53]).
4. Denoising network (our student), Eq. 5:
        L_D = (1 - alpha) |sg(x~_1) - x^|_1 + alpha |sg(x~_2) - x^|_1

Only the student is deployed; BNN (a teacher file) and LAN (a "helper" file) stay in the
run folder. The LAN network is models/lan.py (registered as ``lan``); this file holds the losses,
the stages and the recipe tables.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.padding import run_padded


def local_std(x: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Eq. 2: standard deviation of the gray (RGB-mean) image over window x window patches, 0-255 units."""
    g = x.mean(dim=1, keepdim=True) * 255.0
    r = window // 2
    _, _, h, w = g.shape
    mode = "reflect" if h > r and w > r else "replicate"
    gp = F.pad(g, (r, r, r, r), mode=mode)
    m = F.avg_pool2d(gp, window, stride=1)
    m2 = F.avg_pool2d(gp * gp, window, stride=1)
    return (m2 - m * m).clamp_min(0).sqrt()


def flatness_alpha(bnn_out: torch.Tensor, window: int = 7, low: float = 1.0, high: float = 5.0) -> torch.Tensor:
    """Eq. 3: alpha in [0, 1], (B, 1, H, W); ~0 in flat areas, ~1 on texture and edges."""
    s = local_std(bnn_out, window)
    return torch.where(s <= low, torch.sigmoid(s - low),
                       torch.where(s <= high, torch.full_like(s, 0.5), torch.sigmoid(s - high)))


def bnn_output(bnn, y: torch.Tensor, blind_spot: int) -> torch.Tensor:
    with torch.no_grad():
        return bnn(y, blind_spot=blind_spot).detach()


def lan_loss(lan, bnn, y: torch.Tensor, blind_spot: int = 9, window: int = 7, low: float = 1.0,
             high: float = 5.0) -> torch.Tensor:
    """Eq. 4: mean of (1 - alpha) |sg(BNN(y)) - LAN(y)|."""
    x1 = bnn_output(bnn, y, blind_spot)
    alpha = flatness_alpha(x1, window, low, high)
    return ((1 - alpha) * (x1 - lan(y)).abs()).mean()


def student_loss(student, bnn, lan, y: torch.Tensor, blind_spot: int = 9, window: int = 7, low: float = 1.0,
                 high: float = 5.0) -> torch.Tensor:
    """Eq. 5: mean of (1 - alpha) |x - sg(BNN)| + alpha |x - sg(LAN)|."""
    x1 = bnn_output(bnn, y, blind_spot)
    with torch.no_grad():
        x2 = lan(y).detach()
    alpha = flatness_alpha(x1, window, low, high)
    multiple = getattr(student, "size_multiple", None) or student.module.size_multiple
    pred = run_padded(student, y, multiple)
    return ((1 - alpha) * (pred - x1).abs() + alpha * (pred - x2).abs()).mean()


# ---------------------------------------------------------------- the method (recipe `method = "bnn-lan"`)
from pathlib import Path  # noqa: E402

from ..recipe_tables import TEACHER, Key, RecipeError  # noqa: E402
from .registry import Method, register_method  # noqa: E402


def _odd_at_least(n):
    return lambda x: x >= n and x % 2 == 1


TABLE = {
    "sigma_window": Key(int, 7, _odd_at_least(3), "an odd number >= 3 (std window n, 7 in the paper)"),
    "low": Key(float, 1.0, lambda v: v >= 0, "a non-negative number in 0-255 units (l = 1 in the paper)"),
    "high": Key(float, 5.0, lambda v: v >= 0, "a non-negative number >= low, 0-255 units (u = 5 in the paper)"),
}
_LOOP = ("iterations", "batch", "crop", "lr", "seed", "checkpoint_every", "val_every", "val_images", "log_every",
         "workers", "amp", "compile")
LAN_TABLE = {
    "width": Key(int, 64, lambda v: v > 0, "a positive integer"),
    "receptive": Key(int, 3, _odd_at_least(1), "an odd number >= 1 (LAN receptive field; 3 in the paper)"),
    "blocks": Key(int, 4, lambda v: v >= 0, "a non-negative integer (1x1 channel-attention blocks)"),
    **{n: TEACHER[n] for n in _LOOP},     # the LAN stage's loop settings, the teacher's defaults
}


def check(recipe: dict) -> None:
    src, t, b = recipe.get("name", "recipe"), recipe["teacher"], recipe["bnn-lan"]
    if t["train_blind_spot"] != t["infer_blind_spot"]:
        raise RecipeError(f"{src}: method bnn-lan trains and applies the BNN with one blind neighbourhood; "
                          f"'teacher.infer_blind_spot' = {t['infer_blind_spot']} must equal 'teacher.train_blind_spot' "
                          f"= {t['train_blind_spot']}; allowed: the same odd number (9 in the paper)")
    if b["high"] < b["low"]:
        raise RecipeError(f"{src}: 'bnn-lan.high' = {b['high']} is below 'bnn-lan.low' = {b['low']}; allowed: high >= low")


def train(images, recipe, run_dir, *, device, resume, val_pairs, init_weights, source, quiet):
    """Stage 1: the BNN (an AT-BSN teacher with k_a = k_b); stage 2: the LAN (``train_lan``)."""
    from .atbsn import train_teacher

    kw = dict(device=device, resume=resume, val_pairs=val_pairs, source=source, quiet=quiet)
    bnn = run_dir / "teacher.safetensors"
    if not (resume and bnn.exists()):
        bnn = train_teacher(images, recipe["teacher"], run_dir, init_weights=init_weights, **kw)
    elif not quiet:
        print(f"BNN already trained: {bnn}")
    return train_lan(images, recipe, bnn, run_dir, **kw)


def train_lan(images, recipe, bnn_path: Path, run_dir: Path, *, device="auto", resume=False, val_pairs=None,
              source=None, quiet=False) -> Path:
    """Stage 2 of BNN-LAN: LAN supervised by the flat areas of the frozen BNN (Eq. 4)."""
    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.validation import make_validator
    from ..weights import load_model
    from .run import frozen

    sec, b = recipe["lan"], recipe["bnn-lan"]
    cfg = StageConfig.from_section(sec)
    dev = pick_device(device)
    bnn = frozen(load_model(bnn_path, device=str(dev), expect_kind="teacher"))
    k = recipe["teacher"]["train_blind_spot"]
    torch.manual_seed(cfg.seed)
    lan = create_model("lan", width=sec["width"], receptive=sec["receptive"], blocks=sec["blocks"])
    validate = make_validator(val_pairs, "student", None, sec.get("val_images", 16), dev)
    lan.train()
    win, lo, hi = b["sigma_window"], b["low"], b["high"]
    return run_stage(stage="lan", run_dir=run_dir, model=lan, dataset=CropDataset(images, cfg.crop, cfg.seed),
                     loss_fn=lambda net, y: lan_loss(net, bnn, y, k, win, lo, hi), cfg=cfg, device=dev,
                     resume=resume, validate=validate, quiet=quiet, final_name="lan.safetensors",
                     manifest={"command": "train", "source": {"bnn": str(bnn_path), **(source or {})},
                               "method": "bnn-lan", "blind_spot": k, "sigma_window": win, "low": lo, "high": hi})


def student_objective(recipe, teacher, teacher_path, device, lan_path):
    """Eq. 5: the student learns from the BNN where the LAN says the image is flat."""
    from ..training.loop import TrainingError
    from ..weights import load_model
    from .run import frozen

    lan_path = Path(lan_path) if lan_path else Path(teacher_path).parent / "lan.safetensors"
    if not lan_path.exists():
        raise TrainingError(f"{lan_path}: no LAN weights; bnn-lan distillation needs the LAN trained by "
                            f"`hushframe train --recipe bnn-lan` (it sits beside teacher.safetensors) or --lan PATH")
    lan = frozen(load_model(lan_path, device=str(device), expect_kind="helper"))
    k = teacher.default_blind_spot
    b = recipe["bnn-lan"]
    win, lo, hi = b["sigma_window"], b["low"], b["high"]
    return ((lambda net, y: student_loss(net, teacher, lan, y, k, win, lo, hi)), {"blind_spot": k},
            {"lan": str(lan_path)})


METHOD = register_method(Method(
    name="bnn-lan", summary="Spatially-Adaptive SSID (CVPR 2023): BNN + LAN, then the student",
    train=train, distill_loss=student_objective, tables={"bnn-lan": TABLE, "lan": LAN_TABLE}, check=check,
    init_from_teacher=True, train_tables=("teacher", "lan")))
