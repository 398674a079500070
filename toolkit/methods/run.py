"""`hushframe train` / `hushframe distill` for every registered method, on the shared loop.

``train_recipe`` and ``distill_recipe`` take a validated recipe (all tables) and hand it to the
:class:`~.registry.Method` named by ``recipe["method"]`` (one file per method in this package).
Every stage is a ``run_stage`` call, so checkpoints, resume, logs, NaN checks and manifests are
the shared ones; multi-stage methods keep one run folder and skip stages whose weights exist.

Run folder contents per method (``train`` -> ``distill``):

* atbsn:   teacher.safetensors -> student.safetensors
* aprrd:   teacher.safetensors (AT-BSN trained with APR) -> student.safetensors (RD)
* bnn-lan: teacher.safetensors (the BNN, k = 9) + lan.safetensors -> student.safetensors
* amsnet:  amsnet.safetensors (+ amsnet-base.safetensors when smoothing) -> student.safetensors
"""

from __future__ import annotations

from pathlib import Path

from .registry import get_method


def check_recipe(recipe: dict) -> None:
    """Cross-key rules a single-key check cannot express (the method's own); errors name the keys."""
    m = get_method(recipe["method"])
    if m.check is not None:
        m.check(recipe)


def train_recipe(images, recipe: dict, run_dir: Path, *, device="auto", resume=False, val_pairs=None,
                 init_weights: Path | None = None, source: dict | None = None, quiet=False) -> Path:
    """Self-supervised stage(s) of the recipe's method; returns the weights ``distill`` starts from."""
    check_recipe(recipe)
    return get_method(recipe["method"]).train(images, recipe, Path(run_dir), device=device, resume=resume,
                                              val_pairs=val_pairs, init_weights=init_weights, source=source,
                                              quiet=quiet)


def distill_recipe(images, recipe: dict, teacher_path: Path, run_dir: Path, *, device="auto", resume=False,
                   val_pairs=None, init_weights: Path | None = None, source: dict | None = None, quiet=False,
                   lan_path: Path | None = None) -> Path:
    """Distil the deployable student: ``run_dir/student.safetensors`` (a registered student arch).

    ``teacher_path``: what the method's ``train`` made (teacher.safetensors, amsnet.safetensors).
    bnn-lan also needs the LAN: ``lan_path``, by default lan.safetensors beside the BNN.
    """
    check_recipe(recipe)
    m = get_method(recipe["method"])
    kw = dict(device=device, resume=resume, val_pairs=val_pairs, init_weights=init_weights, source=source, quiet=quiet)
    if m.distill is not None:
        return m.distill(images, recipe, Path(teacher_path), Path(run_dir), **kw)
    return _distill_student(m, images, recipe, Path(teacher_path), Path(run_dir), lan_path=lan_path, **kw)


# ---------------------------------------------------------------- shared by the method files
def teacher_common(section, init_weights):
    """An AT-BSN teacher built from the [teacher] table (optionally from weights) and its loop settings."""
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


def frozen(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def _distill_student(method, images, recipe, teacher_path, run_dir, *, device, resume, val_pairs, init_weights,
                     source, quiet, lan_path):
    """The student stage every method shares; the method gives the loss (``Method.distill_loss``)."""
    import torch

    from ..data.datasets import CropDataset
    from ..models import create_model
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.validation import make_validator
    from ..weights import load_model, load_state_checked

    sec = recipe["distill"]
    cfg = StageConfig.from_section(sec)
    dev = pick_device(device)
    teacher = frozen(load_model(teacher_path, device=str(dev), expect_kind=method.teacher_kind))
    loss, extra, extra_source = method.distill_loss(recipe, teacher, teacher_path, dev, lan_path)
    man = {"command": "distill", "source": {"teacher": str(teacher_path), **extra_source, **(source or {})},
           "method": method.name, **extra}
    torch.manual_seed(cfg.seed)
    levels = {"levels": sec["levels"]} if sec.get("levels") else {}
    student = create_model(sec["student"], width=sec["width"], **levels)
    if init_weights:
        load_state_checked(student, load_model(init_weights, expect_kind="student").state_dict(), init_weights)
    elif sec.get("init_from_teacher") and method.init_from_teacher:
        n = student.init_from_teacher(teacher)
        if not quiet:
            print(f"initialised {n} student tensors from the teacher's UNet")
    validate = make_validator(val_pairs, "student", None, sec.get("val_images", 16), dev)
    student.train()
    return run_stage(stage="distill", run_dir=run_dir, model=student, dataset=CropDataset(images, cfg.crop, cfg.seed),
                     loss_fn=loss, cfg=cfg, device=dev, resume=resume, validate=validate,
                     final_name="student.safetensors", quiet=quiet, manifest=man)
