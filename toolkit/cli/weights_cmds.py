"""`hushframe import-weights`."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them


@app.command("import-weights", rich_help_panel="Models")
def import_weights(
    checkpoint: Path = typer.Argument(..., help="Published .pth checkpoint (student C 1.00 M or the paper's 1.02 M layout, or an official AT-BSN teacher)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write our .safetensors file."),
    layout: str = typer.Option("auto", help="auto | student-c | student-c-1.02m | atbsn-teacher | atbsn-d"),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help="Replace an existing output."),
):
    """Convert a published checkpoint into hushframe's safetensors format.

    The file is read with torch.load(weights_only=True): a pickle that would run code is
    refused.

    Examples:

      hushframe import-weights aprrd-student-c-1.00m-sidd.pth -o student-c-sidd.safetensors

      hushframe import-weights atbsn_sidd.pth --layout atbsn-teacher -o teacher.safetensors
    """
    from hushframe.core.atomic import check_new_output
    from hushframe.core.manifest import file_sha256, write_manifest

    check_new_output(output, overwrite)
    from ..weights import convert_foreign, detect_layout, read_foreign_checkpoint, save_model

    state = read_foreign_checkpoint(checkpoint)
    kind = detect_layout(state) if layout == "auto" else layout
    model = convert_foreign(state, kind, checkpoint)
    save_model(model, output, {"imported_from": checkpoint.name})
    n = sum(p.numel() for p in model.parameters())
    write_manifest(output, kind="weights", made_by="hushframe import-weights",
                   source={"checkpoint": str(checkpoint), "sha256": file_sha256(checkpoint), "layout": kind},
                   settings={"arch": model.arch, "config": model.config}, extra={"parameters": n}, tools=("torch",))
    typer.echo(f"imported {kind} ({model.arch}, {n:,} parameters) -> {output}")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
