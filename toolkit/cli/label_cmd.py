"""`hushframe label`: write a teacher's pseudo-labels of noisy photos to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer

from ..teachers import kinds_usage


def register(root: typer.Typer) -> None:
    """Add `label` to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.command("label", rich_help_panel="Training")(label)


def label(
    data: List[Path] = typer.Argument(..., help="Noisy images: folders, image files, videos (as for `hushframe distill`)."),
    teacher: str = typer.Option(..., "--teacher", "-t", help=f"Teacher spec: {kinds_usage()} (atbsn at its k_b; "
                                "not labels:DIR, which is already labels), or a weighted sum of these."),
    output: Path = typer.Option(..., "-o", "--output", help="Labels folder (labels.json + one PNG per image); "
                                "an unfinished one is continued."),
):
    """Run a teacher once over whole noisy photos and store its outputs as lossless PNG labels.

    Slow classical denoisers (FFmpeg nlmeans: seconds per frame) then run on the machine
    that has them, and any machine trains from the folder without them:

      hushframe label photos/ --teacher ffmpeg:nlmeans=s=3 -o labels-nlm/

      hushframe label photos/ -t "0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4" -o labels-mix/

      hushframe distill photos/ --teacher labels:labels-nlm/ -o runs/fast --student student_c

      hushframe label photos/ --teacher student:deployed.onnx -o labels-big/   # through the runtime, tiled

    Labels are keyed by the images' pixels: the same photos, in any order or folder, find
    them. An interrupted run continues where it stopped when given the same -o.
    """
    from ..data.datasets import load_noisy_images
    from ..teachers import build_teacher, parse_teacher
    from ..teachers.labels import write_labels

    spec = parse_teacher(teacher)
    read = [t for t in spec.terms if not t.runs]
    if read:
        raise typer.BadParameter(f"{read[0].spec} is already a labels folder; give the teacher that makes labels",
                                 param_hint="--teacher")
    images = load_noisy_images(data, warn=lambda m: typer.echo(f"warning: {m}", err=True))
    typer.echo(f"label: {len(images)} noisy images, teacher {spec.text} -> {output}")
    runner = _Ensemble(spec) if len(spec.terms) > 1 else _one(spec.terms[0])
    doc = write_labels(images, runner, output, log=typer.echo)
    typer.echo(f"labels: {len(doc['items'])} images labelled by {doc['teacher']} in {output}")


def _one(term):
    from ..teachers import build_teacher

    return build_teacher(term, whole_images=True)   # e.g. an AT-BSN teacher at its own k_b, not the Ks family


class _Ensemble:
    """Weighted sum of several teachers' whole-image outputs, rounded once to uint8."""

    def __init__(self, spec):
        self.spec = spec.text
        self.parts = [(t.weight, _one(t)) for t in spec.terms]

    def check(self):
        for _, t in self.parts:
            t.check()

    def label_image(self, img):
        import numpy as np

        from hushframe.core.images import to_uint8

        acc = sum(w * t.label_image(img).astype(np.float32) for w, t in self.parts)
        return to_uint8(acc / 255.0)

