"""Adapt a deployed denoiser to a new camera from that camera's own noisy frames.

A non-blind student cannot learn from noisy frames alone (it would learn the identity), so
adaptation distils the deployed student, from its own weights, towards a teacher that sees
only the new camera's noisy frames. The teacher is a spec (``toolkit/teachers``):

* a frame teacher (``ffmpeg:nlmeans=s=4``, an ensemble of them, or ``labels:DIR`` written
  by ``hushframe label`` on a machine with PyAV): the student learns the classical filter's
  output on this camera, and smooths over its per-image mistakes (the recipe default);
* ``atbsn``: the AT-BSN route. A blind-spot teacher is fine-tuned at k_a on the frames
  (given with ``--teacher atbsn:FILE``, or built from the student C's own weights), then
  the student is distilled from its blind-spot family. It needs long GPU schedules on real
  data: a few minutes of it made the published student worse (36.30 -> 31.24 dB on polyu-dev).

Adaptation must do no harm, so it is judged before it ships (``judge``): with paired data
the better of before/after is kept and the report says which; without pairs a no-reference
check runs on held-out strips of the user's own frames (``no_reference_check``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ATBSN_FROM_STUDENT = "atbsn"
HOLDOUT_FRACTION = 0.1  # bottom strip of every frame kept out of training for the no-reference check


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


def split_holdout(images: list[np.ndarray], crop: int, fraction: float = HOLDOUT_FRACTION):
    """(training frames, held-out strips): the bottom ``fraction`` of every frame tall enough.

    Strips rather than whole frames, so a camera with only a few frames still has both.
    """
    train, held = [], []
    for im in images:
        h = im.shape[0]
        cut = int(round(h * fraction))
        if cut >= 32 and h - cut >= crop:
            train.append(np.ascontiguousarray(im[:h - cut]))
            held.append(np.ascontiguousarray(im[h - cut:]))
        else:
            train.append(im)
    return train, held


def adapt(images, recipe: dict, student_path: Path, run_dir: Path, *, teacher: str | None = None,
          device="auto", resume=False, val_pairs=None, quiet=False) -> dict:
    """Train the adapted student into ``run_dir``; returns {"student": path, "teacher": spec or path}."""
    from ..teachers import parse_teacher
    from ..weights import load_model

    from hushframe.core.errors import HushframeError

    run_dir = Path(run_dir)
    done = run_dir / "student-adapted.safetensors"
    if done.exists() and not resume:  # never reuse an earlier run's model silently
        raise HushframeError(f"{run_dir}: already holds an adapted student ({done.name}); pass --resume to reuse "
                             f"it and judge it again, or choose a new --output")
    run_dir.mkdir(parents=True, exist_ok=True)
    spec = teacher or recipe["distill"].get("teacher") or ATBSN_FROM_STUDENT
    student = load_model(student_path, expect_kind="student")
    d_sec = dict(recipe["distill"])
    d_sec.update(student=student.arch, width=student.config.get("width", 48),
                 levels=student.config.get("levels", 0), init_from_teacher=False)
    out = run_dir / "student-adapted.safetensors"
    if spec == ATBSN_FROM_STUDENT or (parse_teacher(spec).plain_atbsn):
        return _adapt_atbsn(images, recipe, student, student_path, run_dir, spec, d_sec, device, resume, val_pairs, quiet)
    from ..teachers.distill import distill_from_teacher

    spec = with_anchor(spec, student_path, d_sec.get("anchor", 0.0))
    if not out.exists():
        trained = distill_from_teacher(images, d_sec, spec, run_dir, device=device, resume=resume, val_pairs=val_pairs,
                                       init_weights=student_path, quiet=quiet, source={"adapted_from": str(student_path)})
        _rename_with_manifest(trained, out)
    return {"student": out, "teacher": spec.text}


def with_anchor(spec, student_path: Path, anchor: float):
    """The teacher spec with the deployed student's own output mixed in at weight ``anchor``.

    The target becomes (1 - a) * teacher + a * deployed(y): the adapted student keeps part of
    what it knew. On the first 20 polyu-dev pairs, 0.8 * the FFmpeg ensemble + 0.2 * the
    published SIDD student scores 37.08 dB against 36.96 for the ensemble alone (each target
    measured directly, before any training), the two err in different places.
    """
    from ..teachers import Term, TeacherSpec, parse_teacher

    spec = parse_teacher(spec)
    if not anchor:
        return spec
    terms = [Term(t.kind, t.arg, t.weight * (1 - anchor)) for t in spec.terms]
    return TeacherSpec(tuple(terms) + (Term("student", str(student_path), anchor),))


def _adapt_atbsn(images, recipe, student, student_path, run_dir, spec, d_sec, device, resume, val_pairs, quiet):
    from ..weights import load_model, save_model
    from ..methods.atbsn import distill_student, train_teacher

    if spec == ATBSN_FROM_STUDENT:
        teacher_path = run_dir / "teacher-init.safetensors"
        if not teacher_path.exists():
            save_model(teacher_from_student(student), teacher_path)
    else:
        teacher_path = Path(spec.split(":", 1)[1] if spec.startswith("atbsn:") else spec)
    t_sec = dict(recipe["teacher"])
    tm = load_model(teacher_path, expect_kind="teacher")
    t_sec.update(width=tm.config["width"], levels=tm.config["levels"])
    teacher = run_dir / "teacher.safetensors"
    if not teacher.exists():
        teacher = train_teacher(images, t_sec, run_dir, device=device, resume=resume, val_pairs=val_pairs,
                                init_weights=teacher_path, quiet=quiet, source={"adapted_from": str(teacher_path)})
    out = run_dir / "student-adapted.safetensors"
    if not out.exists():
        trained = distill_student(images, d_sec, teacher, run_dir, device=device, resume=resume, val_pairs=val_pairs,
                                  init_weights=student_path, quiet=quiet, source={"adapted_from": str(student_path)})
        _rename_with_manifest(trained, out)
    return {"student": out, "teacher": str(teacher)}


def _rename_with_manifest(src: Path, dst: Path) -> None:
    from hushframe.core.manifest import manifest_path

    src, dst = Path(src), Path(dst)
    if manifest_path(src).exists():
        manifest_path(src).replace(manifest_path(dst))
    src.replace(dst)


def judge(before_path: Path, after_path: Path, run_dir: Path, *, pairs=None, held_out=None, teacher=None,
          device="cpu") -> dict:
    """Decide what ships as ``run_dir/student.safetensors`` and say why.

    With ``pairs``: PSNR/SSIM before and after; the better model ships (ties keep the deployed
    one). Without: both ship-candidates are described by ``no_reference_check`` on the held-out
    strips and the adapted student ships, with the check's limits stated in the report.
    """
    from ..eval.evaluate import evaluate
    from ..weights import load_model

    run_dir = Path(run_dir)
    final = run_dir / "student.safetensors"
    report: dict = {}
    if pairs:
        b, _ = evaluate(load_model(before_path, str(device)), pairs, device, label="before")
        a, _ = evaluate(load_model(after_path, str(device)), pairs, device, label="after")
        keep_after = a.psnr > b.psnr
        report.update(images=len(pairs), before={"psnr": b.psnr, "ssim": b.ssim}, after={"psnr": a.psnr, "ssim": a.ssim},
                      gain_db=a.psnr - b.psnr, kept="adapted" if keep_after else "deployed",
                      why=(f"adapted student is better on the pairs ({a.psnr:.3f} > {b.psnr:.3f} dB)" if keep_after else
                           f"adapted student is not better on the pairs ({a.psnr:.3f} <= {b.psnr:.3f} dB): "
                           f"the deployed student ships unchanged"))
    else:
        keep_after = True
        if held_out:
            report["no_reference"] = {"before": no_reference_check(load_model(before_path, str(device)), held_out, teacher, device),
                                      "after": no_reference_check(load_model(after_path, str(device)), held_out, teacher, device)}
        report.update(kept="adapted", why="no paired data: the adapted student ships; see no_reference for what was checked",
                      no_reference_limits=NO_REFERENCE_LIMITS)
    _copy_atomic(after_path if keep_after else before_path, final)
    report["student"] = str(final)
    return report


NO_REFERENCE_LIMITS = (
    "Measured on held-out strips of your own frames, with no clean reference. "
    "teacher_psnr: how closely the student reproduces the teacher on frames it never trained on "
    "(it learned the teacher's behaviour on this camera, not memorised crops); it cannot say whether "
    "the teacher, or the student, is closer to the truth. residual_noise: the noise level left in the "
    "output (lower = more denoising, but an over-smoothed output is low too). residual_structure: "
    "how much image structure the removed component carries (higher = detail removed with the noise). "
    "None of these sees a colour shift or gives PSNR: pass --pairs with ground truth for that."
)


def no_reference_check(model, strips, teacher=None, device="cpu") -> dict:
    """Reference-free figures of a denoiser on held-out noisy strips (see NO_REFERENCE_LIMITS)."""
    from ..eval.denoise import denoise_uint8

    noise, structure, tp = [], [], []
    for y in strips:
        out = denoise_uint8(model, y, device=device)
        yf, of = y.astype(np.float64), out.astype(np.float64)
        res = yf - of
        noise.append(_noise_sigma(of))
        structure.append(_structure(res, of))
        if teacher is not None:
            t = teacher(y).astype(np.float64)
            tp.append(10 * np.log10(255.0 ** 2 / max(np.mean((of - t) ** 2), 1e-10)))
    rep = {"strips": len(strips), "residual_noise": float(np.mean(noise)), "residual_structure": float(np.mean(structure))}
    if tp:
        rep["teacher_psnr"] = float(np.mean(tp))
    return rep


def _noise_sigma(img: np.ndarray) -> float:
    """Noise std (0-255 units) from the median absolute Laplacian-like residual (robust to edges)."""
    d = img[1:-1, 1:-1] - 0.25 * (img[:-2, 1:-1] + img[2:, 1:-1] + img[1:-1, :-2] + img[1:-1, 2:])
    return float(np.mean([np.median(np.abs(d[..., c])) for c in range(d.shape[2])]) / 0.6745 / np.sqrt(1.25))


def _structure(residual: np.ndarray, out: np.ndarray) -> float:
    """|correlation| between the removed component's local energy and the output's gradient magnitude."""
    r = np.abs(residual.mean(2))
    g = out.mean(2)
    gm = np.hypot(np.diff(g, axis=0)[:, :-1], np.diff(g, axis=1)[:-1, :])
    r = r[:-1, :-1]
    if r.std() == 0 or gm.std() == 0:
        return 0.0
    return float(abs(np.corrcoef(r.ravel(), gm.ravel())[0, 1]))


def _copy_atomic(src: Path, dst: Path) -> None:
    """Copy weights and their manifest atomically; never leave another model's manifest beside dst."""
    from hushframe.core.atomic import write_bytes_atomic
    from hushframe.core.manifest import manifest_path

    src, dst = Path(src), Path(dst)
    write_bytes_atomic(dst, src.read_bytes())
    if manifest_path(src).exists():
        write_bytes_atomic(manifest_path(dst), manifest_path(src).read_bytes())
    else:
        manifest_path(dst).unlink(missing_ok=True)
