"""`hushframe eval`: PSNR/SSIM of a student, or of a teacher at k_b or over a sweep."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them


@app.command("eval", rich_help_panel="Evaluation")
def eval_cmd(
    weights: Path = typer.Argument(..., help="Student or teacher weights (.safetensors)."),
    pairs: Path = typer.Option(..., "--pairs", "-p", help="Paired set: folder (NAME_real/NAME_mean, NOISY/GT), SIDD .mat, or noisy folder with --clean."),
    clean: Optional[Path] = typer.Option(None, help="Ground-truth folder matching the noisy folder's file names."),
    blind_spot: Optional[int] = typer.Option(None, "--blind-spot", "-k", help="Teacher only: k_b (default: the one stored with the model)."),
    sweep: Optional[str] = typer.Option(None, help="Teacher only: comma-separated k_b values, e.g. 0,1,3,5,7,9,11."),
    output: Path = typer.Option(Path("eval"), "-o", "--output", help="Folder for results.json, strip.png (and sweep.png)."),
    examples: int = typer.Option(3, help="Images in the noisy | denoised | ground truth strip."),
    limit: Optional[int] = typer.Option(None, help="Evaluate only the first N pairs."),
    device: str = typer.Option("auto"),
    max_border_ratio: Optional[float] = typer.Option(None, help="Gate: exit 1 if the border ratio (outer 4-px ring error / interior error, 16-px margin) is above this, e.g. 1.3."),
    min_harm_psnr: Optional[float] = typer.Option(None, help="Gate: exit 1 if PSNR(model(clean), clean) on any built-in synthetic frame is below this (dB), e.g. 25."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an earlier evaluation's results in --output (as FFmpeg's -y)."),
):
    """Evaluate on a paired set: PSNR and SSIM on uint8 images (data_range 255, skimage convention),
    the border ratio (outer 4-px ring error / interior error; near 1 = borders as good as the
    middle) and a do-no-harm score: PSNR of model(clean) against clean on built-in synthetic
    frames (colour bars, saturated patches, ramp, lines; higher = clean content left alone).

    Examples:

      hushframe eval runs/cam1/student.safetensors --pairs ../shared/data/polyu-dev

      hushframe eval runs/cam1/student.safetensors --pairs polyu-dev --max-border-ratio 1.3 --min-harm-psnr 25

      hushframe eval runs/cam1/teacher.safetensors --pairs polyu-dev --sweep 0,1,3,5,7,9,11
    """
    from rich.console import Console
    from rich.table import Table

    from hushframe.core.atomic import check_new_output, write_json_atomic
    from hushframe.core.pairs import find_pairs
    from ..eval.evaluate import evaluate, evaluate_noisy, save_strip, save_sweep_plot
    from ..eval.faithful import harm_psnr
    from ..models import model_kind
    from ..training.loop import pick_device
    from ..weights import load_model

    if output.is_dir():  # before any work: an earlier evaluation's results are never replaced silently
        check_new_output(output / "results.json", overwrite)
    dev = pick_device(device)
    model = load_model(weights, device=str(dev))
    kind = model_kind(model.arch)
    ps = find_pairs(pairs, clean)[: limit or None]
    output.mkdir(parents=True, exist_ok=True)
    console = Console()
    base = evaluate_noisy(ps)
    results = {"weights": str(weights), "arch": model.arch, "pairs": str(pairs), "images": len(ps), "noisy": base.as_dict()}
    table = Table(title=f"{weights.name} on {pairs} ({len(ps)} pairs)")
    for c in ("what", "PSNR (dB)", "SSIM", "border ratio", "do-no-harm (dB, min)"):
        table.add_column(c)
    table.add_row("noisy input", f"{base.psnr:.3f}", f"{base.ssim:.4f}", "", "")

    def fmt_border(r):
        return "n/a (images < 33 px)" if r.border is None else f"{r.border:.2f}"

    def add_harm(k):
        harm = harm_psnr(model, str(dev), blind_spot=k)
        return harm, min(harm.values())

    gate_rows = []
    if kind == "teacher" and sweep:
        ks = [int(k) for k in sweep.split(",")]
        rows, harms = [], []
        for k in ks:
            r, kept = evaluate(model, ps, dev, blind_spot=k, label=f"teacher k_b={k}", keep=examples if k == ks[0] else 0)
            rows.append(r)
            harm, hmin = add_harm(k)
            harms.append(harm)
            gate_rows.append((r, hmin))
            table.add_row(r.label, f"{r.psnr:.3f}", f"{r.ssim:.4f}", fmt_border(r), f"{hmin:.2f}")
            if kept:
                save_strip(output / "strip.png", kept, label=r.label)
        results["sweep"] = [dict(r.as_dict(), harm_psnr=h) for r, h in zip(rows, harms)]
        save_sweep_plot(output / "sweep.png", ks, [r.psnr for r in rows], [r.ssim for r in rows])
    else:
        k = blind_spot if kind == "teacher" else None
        if kind == "teacher" and k is None:
            k = model.default_blind_spot
        label = f"teacher k_b={k}" if kind == "teacher" else model.arch
        r, kept = evaluate(model, ps, dev, blind_spot=k, label=label, keep=examples)
        harm, hmin = add_harm(k)
        gate_rows.append((r, hmin))
        results["model"] = dict(r.as_dict(), harm_psnr=harm)
        table.add_row(label, f"{r.psnr:.3f}", f"{r.ssim:.4f}", fmt_border(r), f"{hmin:.2f}")
        if kept:
            save_strip(output / "strip.png", kept, label=label)
    failures = []
    for r, hmin in gate_rows:
        if max_border_ratio is not None and r.border is not None and r.border > max_border_ratio:
            failures.append(f"{r.label}: border ratio {r.border:.2f} > {max_border_ratio}")
        if min_harm_psnr is not None and hmin < min_harm_psnr:
            failures.append(f"{r.label}: do-no-harm {hmin:.2f} dB < {min_harm_psnr} dB")
    results["gate"] = {"max_border_ratio": max_border_ratio, "min_harm_psnr": min_harm_psnr,
                       "passed": not failures, "failures": failures}
    console.print(table)
    write_json_atomic(output / "results.json", results)
    console.print(f"wrote {output / 'results.json'}" + (f", {output / 'strip.png'}" if examples else ""))
    if failures:
        for f in failures:
            console.print(f"[bold red]FAIL[/] {f}")
        raise SystemExit(1)
    if max_border_ratio is not None or min_harm_psnr is not None:
        console.print("[bold green]PASS[/] faithfulness gate")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
