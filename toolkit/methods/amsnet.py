"""AMSNet: asymmetric mask scheme (Liao et al., "Asymmetric Mask Scheme for Self-Supervised
Real Image Denoising", ECCV 2024; ../shared/papers/amsnet-eccv2024.md).

* Pixel-shuffle downsampling P_s (Sec. 3.2, after AP-BSN): the image becomes s^2 sub-images
  of size H/s x W/s, which breaks spatially correlated noise. s = 5 for training, s = 2
  at inference (asymmetric PD).
* Training, single mask scheme, Eqs. 2-4: a random binary mask M keeps about half of the
  pixels (the others become zero tokens) and the loss counts only the masked pixels:

      L_m(M_s, I_s) = | ~M_s * (D_E(M_s * I_s) - I_s) |_1                     (Eq. 4)

  The mask is drawn per pixel and shared by the colour channels, so a masked pixel's own
  value cannot leak through another channel (sRGB noise is correlated across channels).
* Inference, multi-mask scheme, Eqs. 5-8: k >= 2 branches with complementary masks
  (sum_i ~M^i = I), each branch restores the pixels it masked:

      I_DN = P_s^-1( sum_i ~M^i * D_E(M^i * P_s(I_N)) )                        (Eqs. 7-8)

* Optional smoothness fine-tune (AMSNet-P), Eqs. 9-10:
      L_t = lambda * L_p(I_DN) + |I_DN - I_N|_1,
      L_p(I) = sum sqrt((I[i+1,j] - I[i,j])^2 + (I[i,j+1] - I[i,j])^2)
  with lambda = 0.01 (Sec. 3.4; Fig. 11 prefers 0.1 on SIDD). Both terms are per-pixel means
  here, which keeps their ratio that of the paper's sums.
* The denoiser D_E is any registered network; by default our UNet student C ("a UNet
  denoiser by default, any denoiser pluggable": ``[amsnet] denoiser`` names a student).

Deployment: the masked, pixel-shuffled inference is the *denoiser* (``AMSNet`` in models/amsnet.py,
registered as ``amsnet``, kind "denoiser"); its random masks and the k x s^2 passes make it a
poor export target. ``hushframe distill --recipe amsnet`` distills a plain student from it
(L1 to sg(AMSNet(y)), fresh masks every step), which export/ and runtime/ take unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.amsnet import pd_down  # the network and its pixel shuffle: models/amsnet.py
from ..models.padding import run_padded


def _fit(y: torch.Tensor, s: int) -> torch.Tensor:
    """Crop a training batch to multiples of the PD stride (drops at most s - 1 rows/columns)."""
    h, w = y.shape[-2:]
    return y[..., : h - h % s, : w - w % s]


def mask_loss(net, y: torch.Tensor, stride: int = 5, mask_ratio: float = 0.5) -> torch.Tensor:
    """Eq. 4 on P_s(y): L1 over the masked pixels only (single mask, one branch)."""
    sub = pd_down(_fit(y, stride), stride)
    b, c, h, w = sub.shape
    masked = (torch.rand(b, 1, h, w, device=sub.device) < mask_ratio).to(sub.dtype)
    out = net(sub * (1 - masked), raw=True)
    return (masked * (out - sub).abs()).sum() / (masked.sum() * c).clamp_min(1.0)


def smoothness(img: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Eq. 9 as a per-pixel mean: sqrt(dx^2 + dy^2) with forward differences."""
    dx = img[..., :-1, 1:] - img[..., :-1, :-1]
    dy = img[..., 1:, :-1] - img[..., :-1, :-1]
    return (dx * dx + dy * dy + eps).sqrt().mean()


def smooth_finetune_loss(net, y: torch.Tensor, stride: int = 5, lam: float = 0.01) -> torch.Tensor:
    """Eq. 10: lambda * L_p(I_DN) + |I_DN - I_N|_1, I_DN from all k branches at the training stride."""
    y = _fit(y, stride)
    den = net(y, stride=stride)  # training mode: fresh random masks
    return lam * smoothness(den) + F.l1_loss(den, y)


def distill_loss(student, amsnet, y: torch.Tensor) -> torch.Tensor:
    """L1 between the student and sg(AMSNet(y)) at the inference stride (fresh masks every call)."""
    with torch.no_grad():
        target = amsnet(y, generator=torch.Generator(device=y.device).manual_seed(int(torch.randint(0, 2**31 - 1, ()))))
    multiple = getattr(student, "size_multiple", None) or student.module.size_multiple
    return F.l1_loss(run_padded(student, y, multiple), target.detach())


# ---------------------------------------------------------------- the method (recipe `method = "amsnet"`)
from ..models.registry import list_models  # noqa: E402
from ..recipe_tables import Key  # noqa: E402
from .registry import Method, register_method  # noqa: E402

TABLE = {
    "denoiser": Key(str, "student_c", lambda v: v in list_models("student"),
                    "a registered student: " + ", ".join(list_models("student"))),
    "train_stride": Key(int, 5, lambda v: v >= 1, "a positive integer (PD stride in training, 5)"),
    "infer_stride": Key(int, 2, lambda v: v >= 1, "a positive integer (PD stride at inference, 2)"),
    "mask_ratio": Key(float, 0.5, lambda v: 0 < v < 1, "a number strictly between 0 and 1 (0.5)"),
    "branches": Key(int, 2, lambda v: v >= 2, "an integer >= 2 (complementary masks at inference)"),
    "smooth_lambda": Key(float, 0.01, lambda v: v >= 0, "a non-negative number (0.01)"),
    "smooth_iterations": Key(int, 0, lambda v: v >= 0, "a non-negative integer (0 = no smoothness fine-tune)"),
    "smooth_lr": Key(float, 1e-5, lambda v: v > 0, "a positive number"),
}


def train(images, recipe, run_dir, *, device, resume, val_pairs, init_weights, source, quiet):
    """The AMSNet denoiser with masked branches (Eq. 8), then optionally AMSNet-P (Eq. 10)."""
    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.validation import make_validator
    from ..weights import load_model, load_state_checked

    sec, a = recipe["teacher"], recipe["amsnet"]
    dev = pick_device(device)
    smoothing = a["smooth_iterations"] > 0
    base = run_dir / ("amsnet-base.safetensors" if smoothing else "amsnet.safetensors")
    cfg = StageConfig.from_section(sec)
    man = {"command": "train", "source": source or {}, "method": "amsnet", **{f"amsnet_{k}": v for k, v in a.items()}}
    validate = make_validator(val_pairs, "student", None, sec.get("val_images", 16), dev)
    if not (resume and base.exists()):
        torch.manual_seed(cfg.seed)
        model = create_model("amsnet", denoiser=a["denoiser"], width=sec["width"], levels=sec["levels"],
                             infer_stride=a["infer_stride"], branches=a["branches"])
        if init_weights:
            load_state_checked(model, load_model(init_weights, expect_kind="denoiser").state_dict(), init_weights)
        model.train()
        stride, ratio = a["train_stride"], a["mask_ratio"]
        base = run_stage(stage="amsnet", run_dir=run_dir, model=model, dataset=CropDataset(images, cfg.crop, cfg.seed),
                         loss_fn=lambda net, y: mask_loss(net, y, stride, ratio), cfg=cfg, device=dev, resume=resume,
                         validate=validate, quiet=quiet, final_name=base.name, manifest=dict(man))
    if not smoothing:
        return base
    # AMSNet-P: fine-tune the trained denoiser with Eq. 10 (all branches, smoothness prior).
    model = load_model(base, device=str(dev), expect_kind="denoiser")
    model.train()
    scfg = StageConfig.from_section({**sec, "iterations": a["smooth_iterations"], "lr": a["smooth_lr"]})
    stride, lam = a["train_stride"], a["smooth_lambda"]
    return run_stage(stage="smooth", run_dir=run_dir, model=model, dataset=CropDataset(images, scfg.crop, scfg.seed + 1),
                     loss_fn=lambda net, y: smooth_finetune_loss(net, y, stride, lam), cfg=scfg, device=dev,
                     resume=resume, validate=validate, quiet=quiet, final_name="amsnet.safetensors",
                     manifest={**man, "source": {"base": str(base), **(source or {})}})


def student_objective(recipe, teacher, teacher_path, device, lan_path):
    """The student learns the trained AMSNet denoiser's output."""
    return (lambda net, y: distill_loss(net, teacher, y)), {}, {}


METHOD = register_method(Method(
    name="amsnet", summary="AMSNet (ECCV 2024): asymmetric mask scheme denoiser, then the student",
    train=train, distill_loss=student_objective, tables={"amsnet": TABLE}, teacher_kind="denoiser"))
