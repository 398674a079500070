"""The `hushframe` command: the top floor. Commands live in small modules, registered here explicitly.

Nothing heavy is imported at module level anywhere under cli/: torch, onnx, openvino
and PyAV are imported inside the commands, so ``hushframe --help`` is instant and the
torch-free runtime install can run ``stream`` and ``parity``.
"""

from __future__ import annotations

import sys

import typer

from hushframe.export import cli as export_cli
from hushframe.runtime import cli as runtime_cli
from hushframe.runtime.gstreamer import cli as gstreamer_cli
from hushframe.runtime.teacher import ArtifactTeacher

from ..teachers import use_artifact_teacher
from . import adapt_cmd, demo_cmd, eval_cmds, info_cmd, label_cmd, train_cmds, weights_cmds
from .errors import run_guarded
from .help_text import reflow_commands

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


# Every command group, explicitly, in --help order. Each module defines its commands and a
# `register(root)`; none of them imports this module, so export/ and runtime/ never reach the CLI.
GROUPS = (demo_cmd, train_cmds, adapt_cmd, label_cmd, eval_cmds, weights_cmds, info_cmd, export_cli, runtime_cli,
          gstreamer_cli)
for _group in GROUPS:
    _group.register(app)
reflow_commands(app)  # docstring prose wraps to the terminal, not at the source's line breaks

# A deployed student as a teacher (`--teacher student:model.onnx`) runs through the runtime, which
# the toolkit below may not import: the wiring happens here, at the top.
use_artifact_teacher(ArtifactTeacher)


def main(argv: list[str] | None = None) -> int:
    return run_guarded(app, argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":   # python -m hushframe.toolkit.cli.main / torchrun -m
    sys.exit(main())
