"""`hushframe train` / `hushframe distill` for every recipe method, on the shared loop.

``train_recipe`` and ``distill_recipe`` take a validated recipe (all tables) and dispatch on
``recipe["method"]``; ``atbsn`` goes to ``training.stages`` unchanged. Every stage is a
``run_stage`` call, so checkpoints, resume, logs, NaN checks and manifests are the shared
ones; multi-stage methods keep one run folder and skip stages whose weights already exist.

Run folder contents per method (``train`` -> ``distill``):

* atbsn:   teacher.safetensors -> student.safetensors
* aprrd:   teacher.safetensors (AT-BSN trained with APR) -> student.safetensors (RD)
* bnn-lan: teacher.safetensors (the BNN, k = 9) + lan.safetensors -> student.safetensors
* amsnet:  amsnet.safetensors (+ amsnet-base.safetensors when smoothing) -> student.safetensors
"""

from __future__ import annotations

from pathlib import Path

from ..recipes import RecipeError


def check_recipe(recipe: dict) -> None:
    """Cross-key rules a single-key check cannot express; errors name the keys."""
    from . import sections  # noqa: F401  (tables and models registered)

    m = recipe["method"]
    t = recipe["teacher"]
    src = recipe.get("name", "recipe")
    if m == "bnn-lan":
        if t["train_blind_spot"] != t["infer_blind_spot"]:
            raise RecipeError(f"{src}: method bnn-lan trains and applies the BNN with one blind neighbourhood; "
                              f"'teacher.infer_blind_spot' = {t['infer_blind_spot']} must equal 'teacher.train_blind_spot' "
                              f"= {t['train_blind_spot']}; allowed: the same odd number (9 in the paper)")
        b = recipe["bnn-lan"]
        if b["high"] < b["low"]:
            raise RecipeError(f"{src}: 'bnn-lan.high' = {b['high']} is below 'bnn-lan.low' = {b['low']}; allowed: high >= low")
    if m == "aprrd" and recipe["teacher"]["train_blind_spot"] == 0:
        raise RecipeError(f"{src}: 'teacher.train_blind_spot' = 0 makes the APR teacher an identity; "
                          f"allowed: a positive odd number (9 in the paper)")


def _teacher_common(section, init_weights):
    import torch

    from ..models import create_model
    from ..training.loop import StageConfig

    cfg = StageConfig.from_section(section)
    torch.manual_seed(cfg.seed)
    model = create_model("atbsn", width=section["width"], levels=section["levels"],
                         blind_spot=section["infer_blind_spot"])
    if init_weights:
        from ..weights import load_model, load_state_checked

        load_state_checked(model, load_model(init_weights, expect_kind="teacher").state_dict(), init_weights)
    return cfg, model


def train_recipe(images, recipe: dict, run_dir: Path, *, device="auto", resume=False, val_pairs=None,
                 init_weights: Path | None = None, source: dict | None = None, quiet=False) -> Path:
    """Self-supervised stage(s) of the recipe's method; returns the weights ``distill`` starts from."""
    from ..training.stages import train_teacher

    check_recipe(recipe)
    m = recipe["method"]
    run_dir = Path(run_dir)
    kw = dict(device=device, resume=resume, val_pairs=val_pairs, init_weights=init_weights, source=source, quiet=quiet)
    if m == "atbsn":
        return train_teacher(images, recipe["teacher"], run_dir, **kw)
    if m == "aprrd":
        return _train_aprrd(images, recipe, run_dir, **kw)
    if m == "bnn-lan":
        bnn = run_dir / "teacher.safetensors"
        if not (resume and bnn.exists()):
            bnn = train_teacher(images, recipe["teacher"], run_dir, **kw)
        elif not quiet:
            print(f"BNN already trained: {bnn}")
        kw.pop("init_weights")
        return train_lan(images, recipe, bnn, run_dir, **kw)
    if m == "amsnet":
        return _train_amsnet(images, recipe, run_dir, **kw)
    raise RecipeError(f"unknown method {m!r}")


def _train_aprrd(images, recipe, run_dir, *, device, resume, val_pairs, init_weights, source, quiet):
    from ..data.datasets import CropDataset
    from ..training.loop import pick_device, run_stage
    from ..training.stages import make_validator
    from .aprrd import apr_teacher_loss

    sec, a = recipe["teacher"], recipe["aprrd"]
    cfg, model = _teacher_common(sec, init_weights)
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


def train_lan(images, recipe, bnn_path: Path, run_dir: Path, *, device="auto", resume=False, val_pairs=None,
              source=None, quiet=False) -> Path:
    """Stage 2 of BNN-LAN: LAN supervised by the flat areas of the frozen BNN (Eq. 4)."""
    import torch

    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.stages import make_validator
    from ..weights import load_model
    from .bnn_lan import lan_loss

    sec, b = recipe["lan"], recipe["bnn-lan"]
    cfg = StageConfig.from_section(sec)
    dev = pick_device(device)
    bnn = _frozen(load_model(bnn_path, device=str(dev), expect_kind="teacher"))
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


def _train_amsnet(images, recipe, run_dir, *, device, resume, val_pairs, init_weights, source, quiet):
    import torch

    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.stages import make_validator
    from ..weights import load_model, load_state_checked
    from .amsnet import mask_loss, smooth_finetune_loss

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


def _frozen(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def distill_recipe(images, recipe: dict, teacher_path: Path, run_dir: Path, *, device="auto", resume=False,
                   val_pairs=None, init_weights: Path | None = None, source: dict | None = None, quiet=False,
                   lan_path: Path | None = None) -> Path:
    """Distil the deployable student: ``run_dir/student.safetensors`` (a registered student arch).

    ``teacher_path``: teacher.safetensors (atbsn, aprrd, bnn-lan's BNN) or amsnet.safetensors.
    bnn-lan also needs the LAN: ``lan_path``, by default lan.safetensors beside the BNN.
    """
    from ..training.stages import distill_student

    check_recipe(recipe)
    m = recipe["method"]
    kw = dict(device=device, resume=resume, val_pairs=val_pairs, init_weights=init_weights, source=source, quiet=quiet)
    if m == "atbsn":
        return distill_student(images, recipe["distill"], teacher_path, run_dir, **kw)
    return _distill_method(images, recipe, Path(teacher_path), Path(run_dir), lan_path=lan_path, **kw)


def _distill_method(images, recipe, teacher_path, run_dir, *, device, resume, val_pairs, init_weights, source, quiet,
                    lan_path):
    import torch

    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.stages import make_validator
    from ..weights import load_model, load_state_checked

    m, sec = recipe["method"], recipe["distill"]
    cfg = StageConfig.from_section(sec)
    dev = pick_device(device)
    kind = "denoiser" if m == "amsnet" else "teacher"
    teacher = _frozen(load_model(teacher_path, device=str(dev), expect_kind=kind))
    man = {"command": "distill", "source": {"teacher": str(teacher_path), **(source or {})}, "method": m}
    if m == "aprrd":
        from .aprrd import rd_loss

        ks, rech = list(sec["teachers"]), recipe["aprrd"]["recharge"]
        loss = lambda net, y: rd_loss(net, teacher, y, ks, rech)  # noqa: E731
        man.update(teachers=ks, recharge=rech)
    elif m == "bnn-lan":
        from .bnn_lan import student_loss

        lan_path = Path(lan_path) if lan_path else teacher_path.parent / "lan.safetensors"
        if not lan_path.exists():
            from ..training.loop import TrainingError

            raise TrainingError(f"{lan_path}: no LAN weights; bnn-lan distillation needs the LAN trained by "
                                f"`hushframe train --recipe bnn-lan` (it sits beside teacher.safetensors) or --lan PATH")
        lan = _frozen(load_model(lan_path, device=str(dev), expect_kind="helper"))
        k = teacher.default_blind_spot
        b = recipe["bnn-lan"]
        win, lo, hi = b["sigma_window"], b["low"], b["high"]
        loss = lambda net, y: student_loss(net, teacher, lan, y, k, win, lo, hi)  # noqa: E731
        man["source"]["lan"] = str(lan_path)
        man.update(blind_spot=k)
    elif m == "amsnet":
        from .amsnet import distill_loss

        loss = lambda net, y: distill_loss(net, teacher, y)  # noqa: E731
    else:
        raise RecipeError(f"unknown method {m!r}")
    torch.manual_seed(cfg.seed)
    levels = {"levels": sec["levels"]} if sec.get("levels") else {}
    student = create_model(sec["student"], width=sec["width"], **levels)
    if init_weights:
        load_state_checked(student, load_model(init_weights, expect_kind="student").state_dict(), init_weights)
    elif sec.get("init_from_teacher") and m in ("aprrd", "bnn-lan"):
        n = student.init_from_teacher(teacher)
        if not quiet:
            print(f"initialised {n} student tensors from the teacher's UNet")
    validate = make_validator(val_pairs, "student", None, sec.get("val_images", 16), dev)
    student.train()
    return run_stage(stage="distill", run_dir=run_dir, model=student, dataset=CropDataset(images, cfg.crop, cfg.seed),
                     loss_fn=loss, cfg=cfg, device=dev, resume=resume, validate=validate,
                     final_name="student.safetensors", quiet=quiet, manifest=man)
