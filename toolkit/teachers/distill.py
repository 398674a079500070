"""Distil a student from any teacher spec: L1 to the weighted sum of the teachers' outputs.

    L = | student(y) - sum_t w_t T_t(y) |_1

Frame teachers' outputs (filters, deployed artifacts) come from PNG label caches (labelled
once per image, resumable), network teachers (weights files) run on the crop. The shared training loop (checkpoints, resume, logs,
validation, manifest) runs it as the ``distill`` stage, like AT-BSN distillation.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from . import build_teacher, parse_teacher


def label_cache_dir(run_dir: Path, spec: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", spec).strip("-")[:48]
    return Path(run_dir) / "labels" / f"{slug}-{hashlib.sha256(spec.encode()).hexdigest()[:8]}"


def frame_labels(images, spec, run_dir: Path, *, log=print):
    """For each frame/labels term: (weight, uint8 labels per image, where they came from)."""
    from .labels import load_labels, write_labels

    out = []
    for term in parse_teacher(spec).terms:
        if not term.runs:
            made_by, labs = load_labels(images, Path(term.arg), warn=log)
            out.append((term.weight, labs, {"labels": term.arg, "made_by": made_by}))
        elif term.on_frames:
            folder = label_cache_dir(run_dir, term.spec)
            write_labels(images, build_teacher(term), folder, log=log)
            _, labs = load_labels(images, folder, warn=log)
            out.append((term.weight, labs, {"labels": str(folder), "made_by": term.spec}))
    return out


def distill_from_teacher(images, section: dict, teacher_spec, run_dir: Path, *, device="auto", resume=False,
                         val_pairs=None, init_weights: Path | None = None, source: dict | None = None,
                         quiet=False) -> Path:
    import torch
    import torch.nn.functional as F

    from ..data.datasets import CropDataset
    from ..data.paired_crops import PairedCropDataset, split_pair
    from ..models.padding import run_padded
    from ..training.loop import StageConfig, pick_device, run_stage
    from ..training.students import student_from_section
    from ..training.validation import make_validator
    from ..weights import load_model

    spec = parse_teacher(teacher_spec)
    run_dir = Path(run_dir)
    cfg = StageConfig.from_section(section)
    dev = pick_device(device)
    log = (lambda m: None) if quiet else print
    frames = frame_labels(images, spec, run_dir, log=log)
    nets = [(t.weight, build_teacher(t, device=dev, blind_spots=section.get("teachers") or (0, 1, 3, 5, 7, 9, 11)))
            for t in spec.terms if t.on_crops]

    torch.manual_seed(cfg.seed)
    if init_weights:
        student = load_model(init_weights, expect_kind="student")  # its own arch/width/levels
    else:
        student = student_from_section(section)
        atbsn = [t for _, t in nets if hasattr(t.model, "forward_many")]   # an AT-BSN teacher's UNet
        if section.get("init_from_teacher") and atbsn and hasattr(student, "init_from_teacher"):
            n = student.init_from_teacher(atbsn[0].model)
            log(f"initialised {n} student tensors from the teacher's UNet")
    multiple = student.size_multiple

    if frames:
        dataset = PairedCropDataset(images, [labs for _, labs, _ in frames], [w for w, _, _ in frames], cfg.crop, cfg.seed)
    else:
        dataset = CropDataset(images, cfg.crop, cfg.seed)

    loss_name = section.get("loss", "l1")
    criterion = F.mse_loss if loss_name == "l2" else F.l1_loss

    def loss_fn(net, batch):
        noisy, target = split_pair(batch) if frames else (batch, torch.zeros_like(batch))
        for w, t in nets:
            target = target + w * t(noisy)
        return criterion(run_padded(net, noisy, multiple), target)

    validate = make_validator(val_pairs, "student", None, section.get("val_images", 16), dev)
    student.train()
    return run_stage(stage="distill", run_dir=run_dir, model=student, dataset=dataset, loss_fn=loss_fn, cfg=cfg,
                     device=dev, resume=resume, validate=validate, final_name="student.safetensors", quiet=quiet,
                     manifest={"command": "distill", "source": {"teacher": spec.text, **(source or {}),
                                                                **({"init": str(init_weights)} if init_weights else {})},
                               "teacher": spec.text, "loss": loss_name,
                               "teacher_terms": [{"spec": t.spec, "weight": t.weight} for t in spec.terms],
                               "label_sets": [info for _, _, info in frames]})
