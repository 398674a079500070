"""Export CLI commands: ``export`` (ONNX; ``export triton``), ``quantize``, ``compile openvino|tensorrt``.

Heavy libraries (torch, onnx, onnxruntime, openvino, nncf, tensorrt) are imported inside the
command functions only, so ``hushframe --help`` stays instant.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperGroup

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them

from . import errors as _errors  # noqa: F401  (registers the user-error classes)
from .calibration import DEFAULT_CROPS
from .progress import reporting
from .quant_config import DEFAULT_METHOD

OVERWRITE = typer.Option(False, "--overwrite", "-y", help="Replace an existing output (as FFmpeg's -y); without "
                                                          "it an existing output is refused.")


def _new_output(*paths: Path, overwrite: bool, ext: str | None = None) -> None:
    """Before any work: each output can be written, and exists only if --overwrite says to replace it;
    the first ends in ``ext`` (an ONNX model named out.xyz loaded nowhere afterwards: issue 27)."""
    from hushframe.core.atomic import check_new_output
    from hushframe.core.errors import OutputPathError

    if ext and paths and paths[0].suffix.lower() != ext:
        raise OutputPathError(f"{paths[0]}: the output must end in {ext} (it is what the next step and "
                              f"`--backend auto` read the format from)")
    for p in paths:
        check_new_output(p, overwrite)


class _DefaultCommandGroup(TyperGroup):
    """A group whose first argument, when it is not a subcommand, goes to ``default_command``."""

    default_command = "onnx"

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = [self.default_command] + list(args)
        return super().parse_args(ctx, args)


export_app = typer.Typer(
    cls=_DefaultCommandGroup, no_args_is_help=True, rich_markup_mode="rich",
    help=("Export a model to ONNX (the default), or an ONNX model to a Triton model repository.\n\n"
          "  hushframe export student.safetensors -o student.onnx\n\n"
          "  hushframe export teacher.safetensors --blind-spot 5 -o teacher-k5.onnx\n\n"
          "  hushframe export triton student.onnx -o triton-repo --backend onnxruntime"),
)
compile_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode="rich",
    help=("Compile an exported ONNX model for a runtime.\n\n"
          "  hushframe compile openvino student.onnx -o student.xml --precision fp16\n\n"
          "  hushframe compile tensorrt student-int8.onnx -o student.engine --precision int8"),
)
app.add_typer(export_app, name="export", rich_help_panel="Export")
app.add_typer(compile_app, name="compile", rich_help_panel="Export")


@export_app.command("onnx")
def export_onnx_cmd(
    weights: Path = typer.Argument(..., help="A hushframe .safetensors weights file (student or teacher)."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the .onnx file."),
    blind_spot: Optional[int] = typer.Option(None, "--blind-spot", "-k", help="Teachers only: the fixed blind spot k (0 or odd); default: the teacher's own."),
    opset: int = typer.Option(17, help="ONNX opset (17-21)."),
    simplify: bool = typer.Option(True, "--simplify/--no-simplify", help="Simplify the graph with onnxslim."),
    overwrite: bool = OVERWRITE,
):
    """Export weights to ONNX: input 'input' float32 NCHW RGB in [0,1], dynamic N/H/W (H, W padded by the
    caller to a multiple of the model's size multiple, 2^levels: 32 for the paper's networks, 8 for the
    demo's; recorded in the ONNX metadata and the manifest, shown by `hushframe info`), output 'output'
    of the same shape. `hushframe export MODEL -o x.onnx`
    is short for `hushframe export onnx MODEL -o x.onnx`.

      hushframe export runs/student/student.safetensors -o student.onnx
    """
    from .onnx_export import export_onnx

    _new_output(output, overwrite=overwrite, ext=".onnx")
    out = export_onnx(weights, output, blind_spot=blind_spot, opset=opset, simplify=simplify)
    typer.echo(f"exported {weights} -> {out} (opset {opset}, checked against PyTorch)")


@export_app.command("triton")
def export_triton_cmd(
    model: Path = typer.Argument(..., help="An ONNX model exported by hushframe (fp32, fp16 or int8)."),
    output: Path = typer.Option(..., "-o", "--output", help="Repository folder to create (must not exist or be empty)."),
    backend: str = typer.Option("onnxruntime", help="onnxruntime | openvino | tensorrt_plan"),
    name: str = typer.Option("hushframe_denoiser", help="Model name inside the repository."),
    max_batch_size: int = typer.Option(8, help="Triton max_batch_size (dynamic batching groups same-size frames)."),
    precision: str = typer.Option("fp32", help="openvino backend: fp32 | fp16 | int8."),
    calibration: Optional[Path] = typer.Option(None, help="openvino int8 from an fp32 ONNX: noisy frames (folder or video)."),
    engine: Optional[Path] = typer.Option(None, help="tensorrt_plan: an engine built for the serving GPU."),
):
    """Write a Triton Inference Server model repository (config.pbtxt + model).

      hushframe export triton student.onnx -o repo --backend onnxruntime

      tritonserver --model-repository repo
    """
    from .triton import export_triton

    repo = export_triton(model, output, backend, name=name, max_batch_size=max_batch_size, precision=precision,
                         calibration=calibration, engine=engine)
    typer.echo(f"wrote Triton repository {repo} ({backend}, model {name})")


@app.command("quantize", rich_help_panel="Export")
def quantize_cmd(
    model: Path = typer.Argument(..., help="An fp32 ONNX model from `hushframe export`."),
    output: Path = typer.Option(..., "-o", "--output", help="Where to write the quantized .onnx."),
    precision: str = typer.Option("int8", help="int8 (explicit Q/DQ, TensorRT form) | fp16"),
    calibration: Optional[Path] = typer.Option(None, "--calibration", "-c", help="Your noisy frames: a folder of images or a video (int8)."),
    num_crops: int = typer.Option(DEFAULT_CROPS, help="Calibration crops (at least 32), drawn reproducibly: enough to "
                                                     "hold your frames' rare extremes (saturated colours)."),
    crop_size: Optional[int] = typer.Option(None, help="Crop side in pixels, a multiple of the model's size multiple "
                                                        "(default: 256, or the largest that the frames hold)."),
    seed: int = typer.Option(0, help="Seed of the crop positions."),
    method: str = typer.Option(DEFAULT_METHOD, help="Activation range: mse | max | percentile[:99.99], optionally "
                                            "*HEADROOM such as max*1.5 (default: MSE-optimal over the crops)."),
    equalize: bool = typer.Option(True, "--equalize/--no-equalize", help="Per-channel activation equalization (exact in float)."),
    keep_float: List[str] = typer.Option([], "--keep-float", help="Conv node names to keep in float (repeatable); default: chosen automatically."),
    target: str = typer.Option("auto", help="The recipe's hardware: auto (this CPU's kind: avx2 on AVX2-only CPUs, vnni "
                                            "or amx on CPUs with VNNI or AMX; the manifest says which and why) | avx2 "
                                            "(7-bit weights: exact on every CPU) | vnni (AVX-512 VNNI/AVX-VNNI CPUs) | amx "
                                            "(AMX CPUs: Sapphire Rapids and later) | gpu (TensorRT: signed int8 only). "
                                            "Name the deployment CPU's kind when quantizing on another machine."),
    image_convs: str = typer.Option("auto", help="Convs reading the image: auto (the target's choice) | float | int8 "
                                                 "(their input read exactly, scale 1/255) | concat (the image joins the "
                                                 "features' int8 concat as exact signed codes; vnni/amx)."),
    float_precision: str = typer.Option("auto", help="Float convs on OpenVINO CPUs with bf16: auto (bf16 for amx, else "
                                                     "f32) | f32 | bf16. Recorded in the artifact; the runtime uses it."),
    finetune_steps: int = typer.Option(0, help="Quantization-aware fine-tuning steps against the float model's own "
                                               "outputs on the calibration crops (0 = none; student C: ~1 s a step on "
                                               "2 CPU cores). Same graph, ranges and speed; only codes and biases move."),
    dither: str = typer.Option("auto", help="Subtractive ordered dither of the activations' rounding: auto (= last on "
                                            "CPU targets, none for gpu) | last (the decoder's finest level) | decoder | all "
                                            "| none. Removes the colour shifts int8 rounding makes on flat regions."),
    overwrite: bool = OVERWRITE,
):
    """Make an INT8 or FP16 variant of an exported model.

    INT8: symmetric per-channel int8 weights, zero-point-0 activations (unsigned after ReLU on CPU
    targets, signed int8 everywhere for --target gpu), as explicit QuantizeLinear/DequantizeLinear
    pairs. On CPU targets the convs reading the image read it exactly (scale 1/255: 8-bit frames are
    k/255), and the decoder's activations are rounded with a fixed dither pattern, removed again
    after each conv (--dither), so flat regions do not pick up a colour shift.

      hushframe quantize student.onnx --calibration my-noisy-frames/ -o student-int8.onnx

      hushframe quantize student.onnx -c frames/ -o student-int8.onnx --target amx   # for an AMX CPU, made elsewhere

      hushframe quantize student.onnx -c frames/ -o student-int8.onnx --finetune-steps 300   # tighter INT8

      hushframe quantize student.onnx --precision fp16 -o student-fp16.onnx
    """
    from .errors import ExportError
    from .quant_config import QuantConfig
    from .quantize import quantize

    if finetune_steps < 0 or (finetune_steps and precision != "int8"):
        raise ExportError(f"--finetune-steps {finetune_steps}: a number of steps >= 0, for --precision int8 only")
    config = QuantConfig(target=target, method=method, equalize=equalize, image_convs=image_convs, float_precision=float_precision,
                         keep_float=tuple(keep_float) if keep_float else "auto", finetune_steps=finetune_steps,
                         dither=dither)
    _new_output(output, overwrite=overwrite, ext=".onnx")
    from .quantize_temporal import is_temporal_onnx

    if is_temporal_onnx(model):      # its own recipe: calibrated on sequences, the state kept float
        from .quantize_temporal import quantize_temporal

        if precision != "int8":
            raise ExportError(f"{model}: a temporal model is quantized to int8 only (fp16: run it with --precision fp16)")
        out, rep = quantize_temporal(model, output, calibration)
        typer.echo(f"wrote int8 temporal model {out} (output vs fp32 on the calibration clip: "
                   f"{rep['output_psnr_vs_fp32']['mean']} dB mean, {rep['output_psnr_vs_fp32']['min']} worst frame)")
        return
    bars = []   # the fine-tuning bar starts with the fine-tuning, after the stages before it

    def finetune_progress(step, total, loss):
        if not bars:
            import sys

            from hushframe.core.progress import Progress

            bars.append(Progress("int8 fine-tune", finetune_steps, file=sys.stdout))
        bars[0].update(step, loss=loss * 255**2)

    try:
        with reporting(_stage_lines() if precision == "int8" else None):
            out = quantize(model, output, precision, calibration, config, num_crops=num_crops, crop_size=crop_size,
                           seed=seed, progress=finetune_progress if finetune_steps else None)
    finally:
        for b in bars:
            b.close()
    typer.echo(f"wrote {precision} model {out}")


def _stage_lines():
    """Progress of `quantize` on stderr: a line per stage, then its steps every 5 s or so (the INT8 recipe
    takes minutes on a CPU and said nothing before; issue 27)."""
    import sys
    import time

    t0, last = time.perf_counter(), [0.0]

    def show(name, done, total):
        now = time.perf_counter()
        finished = bool(total) and done == total
        if now - t0 < 2.0 and not finished:   # quiet at first: a mistake found at once stays one line
            return
        if done and now - last[0] < 5.0 and not finished:
            return
        last[0] = now
        count = "" if not total else f" {done}/{total}"
        print(f"quantize: {name}{count}  [{now - t0:.0f} s]", file=sys.stderr, flush=True)

    return show


@compile_app.command("openvino")
def compile_openvino_cmd(
    model: Path = typer.Argument(..., help="An ONNX model from `hushframe export` or `hushframe quantize`."),
    output: Path = typer.Option(..., "-o", "--output", help="The .xml to write (.bin beside it)."),
    precision: str = typer.Option("fp32", help="fp32 | fp16 | int8"),
    shape: Optional[str] = typer.Option(None, help="Fixed input size WIDTHxHEIGHT (e.g. 1920x1088), or a tensor "
                                        "shape NxCxHxW; multiples of the model's size multiple; default dynamic. hushframe's "
                                        "runtime compiles a fixed-shape copy per frame size by itself; fix it here for "
                                        "other consumers (FFmpeg, Triton, your own OpenVINO code) at one resolution: "
                                        "OpenVINO runs a fixed shape up to 8% faster."),
    calibration: Optional[Path] = typer.Option(None, "--calibration", "-c", help="int8 from an fp32 ONNX: noisy frames (folder or video)."),
    latency_check: bool = typer.Option(True, "--latency-check/--no-latency-check", help="Time a few CPU inferences at the end."),
    overwrite: bool = OVERWRITE,
):
    """Compile to OpenVINO IR (.xml/.bin), then check CPU latency.

      hushframe compile openvino student.onnx -o student.xml --precision fp16 --shape 1920x1088

      hushframe compile openvino student-int8.onnx -o student-int8.xml --precision int8
    """
    from .openvino_ir import compile_openvino

    _new_output(output, output.with_suffix(".bin"), overwrite=overwrite)
    xml = compile_openvino(model, output, precision, calibration=calibration, shape=_shape_arg(shape),
                           latency_check=latency_check)
    from hushframe.core.manifest import read_manifest

    lat = (read_manifest(xml) or {}).get("cpu_latency_ms")
    msg = f"wrote {xml} and {xml.with_suffix('.bin').name} ({precision})"
    if lat:
        n, c, h, w = lat["shape"]
        msg += f"; CPU latency {lat['median_ms']} ms at {w}x{h} (batch {n})"
    typer.echo(msg)


def _shape_arg(s: Optional[str]) -> Optional[str]:
    """The CLI's WIDTHxHEIGHT (as everywhere in hushframe) -> the tensor order HxW; NxCxHxW passes as is."""
    if s is None:
        return None
    parts = s.lower().replace(",", "x").split("x")
    return f"{parts[1]}x{parts[0]}" if len(parts) == 2 else s


def _hw(s: Optional[str]):
    if s is None:
        return None
    from .openvino_ir import parse_shape

    return list(parse_shape(_shape_arg(s)))


@compile_app.command("tensorrt")
def compile_tensorrt_cmd(
    model: Path = typer.Argument(..., help="An ONNX model (fp32 for --precision fp16, a Q/DQ model for int8)."),
    output: Path = typer.Option(..., "-o", "--output", help="The .engine to write."),
    precision: str = typer.Option("fp16", help="fp16 | int8 (explicit Q/DQ)"),
    min_shape: Optional[str] = typer.Option(None, "--min", help="Profile minimum WIDTHxHEIGHT (default: one size "
                                                                "multiple square)."),
    opt_shape: Optional[str] = typer.Option(None, "--opt", help="Profile optimum WIDTHxHEIGHT (default 1920x1088)."),
    max_shape: Optional[str] = typer.Option(None, "--max", help="Profile maximum WIDTHxHEIGHT (default 3840x2176, "
                                                                "4K padded)."),
    max_batch: int = typer.Option(1, help="Largest batch in the profile."),
    timing_cache: Optional[Path] = typer.Option(None, help="Timing cache file (read if present, then updated)."),
    overwrite: bool = OVERWRITE,
):
    """Build a TensorRT engine with an optimization profile and a manifest (TensorRT version, GPU).

      hushframe compile tensorrt student.onnx -o student-fp16.engine

      hushframe compile tensorrt student-int8.onnx -o student-int8.engine --precision int8
    """
    from .contract import load_onnx_checked, onnx_settings
    from .tensorrt_engine import compile_tensorrt, default_profile

    _new_output(output, overwrite=overwrite, ext=".engine")
    settings = onnx_settings(load_onnx_checked(model), model)
    prof = default_profile(int(settings["size_multiple"]), max_batch)
    for key, val in (("min", min_shape), ("opt", opt_shape), ("max", max_shape)):
        if val:
            shp = _hw(val)
            prof[key] = [max_batch if key == "max" else 1, 3, shp[2], shp[3]]
    out = compile_tensorrt(model, output, precision, profile=prof, max_batch=max_batch, timing_cache=timing_cache)
    shown = {k: f"{v[3]}x{v[2]} (batch {v[0]})" for k, v in prof.items() if isinstance(v, (list, tuple)) and len(v) == 4}
    typer.echo(f"wrote {out} ({precision}, profile {shown or prof})")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
