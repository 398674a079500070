"""The `hushframe` command. Commands live in small modules and register themselves here.

Nothing heavy is imported at module level anywhere under cli/: torch, onnx, openvino
and PyAV are imported inside the commands, so ``hushframe --help`` is instant and the
torch-free runtime install can run ``stream`` and ``parity``.
"""

from __future__ import annotations

import sys

import typer

from .errors import run_guarded

app = typer.Typer(
    name="hushframe",
    help=(
        "Self-supervised denoising for real cameras: train an AT-BSN teacher on noisy footage, "
        "distill a light student, export/quantize/compile it and stream video through it.\n\n"
        "Typical chain:\n\n"
        "  hushframe train photos/ -o runs/teacher\n\n"
        "  hushframe distill photos/ --teacher runs/teacher/teacher.safetensors -o runs/student\n\n"
        "  hushframe eval runs/student/student.safetensors --pairs polyu-dev/\n\n"
        "  hushframe export runs/student/student.safetensors -o student.onnx\n\n"
        "  hushframe stream clip.mp4 --model student.onnx --output clean.mp4\n\n"
        "Or just: hushframe demo"
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool):
    if value:
        from hushframe.toolkit import __version__

        typer.echo(f"hushframe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                       help="Print the version and exit.")):
    pass


def _register():
    # Each module adds its commands to `app`; import order = order in --help.
    from . import adapt_cmd, demo_cmd, eval_cmds, info_cmd, train_cmds, weights_cmds  # noqa: F401
    from . import label_cmd  # noqa: F401  (hushframe label: pseudo-labels for distillation)

    info_cmd.register(app)

    for mod in ("hushframe.export.cli", "hushframe.runtime.cli", "hushframe.runtime.gstreamer.cli"):
        try:
            __import__(mod)
        except ImportError as e:  # a partial install still offers what it has
            if "hushframe" in str(e):
                raise


_register()


def main(argv: list[str] | None = None) -> int:
    return run_guarded(app, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    # Run as a script (python -m .../torchrun -m): commands registered themselves on the
    # imported module's app, not on this __main__ copy, so delegate to it.
    from hushframe.toolkit.cli.main import main as _main

    sys.exit(_main())
