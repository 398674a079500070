"""What `hushframe adapt --temporal` and `hushframe distill --temporal` run: a camera's noisy video ->
a temporal student (toolkit/training/temporal.py), with the run folder's checks, progress and report."""

from __future__ import annotations

from pathlib import Path

import typer

# the refiner's size class: cpu-fast's (1/3 of nlmeans' time at 1080p on 2 cores) and cpu-mid's
SIZES = {"fast": dict(width=16, convs=1), "mid": dict(width=40, convs=2)}
TEMPORAL_EXAMPLES = """
      hushframe adapt camera.mp4 --temporal -o runs/cam1                         # 25 min on 2 CPU cores

      hushframe adapt day.mkv night/ --temporal -s cpu-fast.safetensors -o runs/cam1 --minutes 10

      hushframe distill camera-frames/ --temporal --size mid -o runs/cam1

      hushframe adapt camera.mp4 --temporal --teacher ffmpeg:nlmeans=s=3 -o runs/cam1   # route (c) blended in
"""


def run_temporal(data, output: Path, *, student: Path | None, size: str, minutes: float | None, steps: int | None,
                 batch: int | None, crop: int | None, lr: float | None, seed: int | None, max_frames: int,
                 resume: bool, command: str, teacher: str | None = None, teacher_weight: float = 0.5) -> None:
    import torch

    from hushframe.core.atomic import write_json_atomic

    from ..data.video_clips import frame_stats, load_clips
    from ..training.temporal import TemporalConfig, prepare, train_temporal

    if size not in SIZES:
        raise typer.BadParameter(f"--size must be one of {', '.join(SIZES)}, not {size!r}")
    output = Path(output)
    final = output / "temporal-student.safetensors"
    if final.exists() and not resume:
        raise typer.BadParameter(f"{final} exists; use another -o, or --resume to continue that run")
    cfg = TemporalConfig(**SIZES[size])
    for k, v in dict(steps=steps, batch=batch, crop=crop, lr=lr, seed=seed).items():
        if v is not None:
            setattr(cfg, k, v)
    cfg.minutes = minutes
    if teacher is not None:
        cfg.teacher, cfg.teacher_weight = _frame_teacher_spec(teacher), teacher_weight
        if not 0.0 < teacher_weight <= 1.0:
            raise typer.BadParameter(f"--teacher-weight must be in (0, 1], not {teacher_weight}")
    cfg.threads = torch.get_num_threads()
    warn = lambda m: typer.echo(f"warning: {m}", err=True)  # noqa: E731
    clips = load_clips(data, max_frames=max_frames, warn=warn)
    stats = frame_stats(clips)
    typer.echo(f"{stats['clips']} clip(s), {stats['frames']} frames ({', '.join(stats['sizes'])}); preparing "
               f"motion and frame-to-frame targets")
    from hushframe.core.progress import Progress

    with Progress("targets", stats["frames"], noun="frame") as bar:
        seqs = prepare(clips, progress=lambda done, total: bar.update(done))
    kept = sum(float(s.mask.mean()) * len(s.noisy) for s in seqs) / max(stats["frames"], 1)
    typer.echo(f"{100 * kept:.0f}% of pixels have a consistent future target (the rest: occlusions, edges)")
    output.mkdir(parents=True, exist_ok=True)
    if cfg.teacher:
        _blend_teacher(seqs, cfg, output, stats["frames"])
    src = {"data": [str(d) for d in data], **stats, **({"student": str(student)} if student else {})}
    out, summary = train_temporal(seqs, output, cfg, init=student, resume=resume, command=command, source=src)
    write_json_atomic(output / "temporal-report.json", {"data": src, **summary})
    cal = summary.get("noise_calibration")
    if cal:
        from ..models.temporal import B_MIN, encoded_variance

        sd = [255 * encoded_variance(max(b, B_MIN), cal["shot"], cal["read"], cal["gamma"]) ** 0.5 for b in (0.1, 0.5, 0.9)]
        typer.echo(f"camera noise, measured on these clips: {sd[0]:.1f} / {sd[1]:.1f} / {sd[2]:.1f} levels (0-255) at "
                   f"brightness 0.1 / 0.5 / 0.9 (encoded model, gamma {cal['gamma']:g}, {cal['blocks']} blocks)")
    how = "the time budget" if summary["stopped_by"] == "minutes" else "its steps"
    typer.echo(f"trained {summary['steps']} steps in {summary['seconds'] / 60:.1f} min (stopped by {how}); "
               f"wrote {out}")
    typer.echo(f"next: hushframe export {out} -o {output / 'temporal.onnx'}   (then quantize / compile / stream)")


def _frame_teacher_spec(spec: str) -> str:
    """Route (c) takes frame teachers only (labelled once per frame, cached): a network teacher run on
    every crop of every unrolled frame would cost more than the training itself."""
    from ..teachers import TeacherSpecError, parse_teacher

    try:
        parsed = parse_teacher(spec)
    except TeacherSpecError as e:
        raise typer.BadParameter(str(e)) from None
    slow = [t.spec for t in parsed.terms if t.runs and not t.on_frames]
    if slow:
        raise typer.BadParameter(f"--temporal --teacher {spec!r}: {slow[0]} runs on every crop; give a frame teacher "
                                 f"(ffmpeg:FILTER, bm3d, student:MODEL.onnx|.xml, labels:DIR)")
    return parsed.text


def _blend_teacher(seqs, cfg, output: Path, frames: int) -> None:
    """Label every training frame once (cached under OUTPUT/labels/, resumable) and blend into the targets."""
    import re

    import numpy as np

    from hushframe.core.progress import Progress

    from ..teachers.distill import frame_labels
    from ..training.temporal import blend_labels

    images = [f for s in seqs for f in s.noisy]
    with Progress("labels", frames, noun="frame") as bar:
        def log(msg: str) -> None:   # write_labels logs one line per frame ("... 12/428 (0.3 s per image)")
            m = re.search(r" (\d+)/\d+ \([\d.]+ s per image\)$", msg)
            if m:
                bar.update(int(m.group(1)))
            else:
                typer.echo(msg, err=True)

        terms = frame_labels(images, cfg.teacher, output, log=log)
    # one frame's weighted label at a time (the uint8 labels are already in memory)
    label = (sum(w * lab[i].astype(np.float32) for w, lab, _ in terms) / 255.0 for i in range(len(images)))
    blend_labels(seqs, label, cfg.teacher_weight)
    typer.echo(f"targets: {1 - cfg.teacher_weight:g} x frame-to-frame + {cfg.teacher_weight:g} x {cfg.teacher}")
