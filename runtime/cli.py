"""Runtime CLI commands: ``stream``, ``parity``, ``bench`` (registered on the shared app).

At import time typer and the backend registry (numpy; for the --backend help); engines and PyAV
load inside the commands, and nothing here ever imports torch unless a .safetensors model is asked for.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer()  # this module's commands; toolkit/cli/main.py registers them

from . import errors as _errors  # noqa: F401  (registers the user-error classes)
from .backends.base import backend_help, list_backends

PANEL = "Runtime"
OVERWRITE_HELP = "Replace existing outputs (as FFmpeg's -y); without it an existing output is refused."


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _check_outputs(overwrite: bool, files=(), folders=()):
    """Every output is writable (and new, unless --overwrite) before any work starts."""
    from hushframe.core.atomic import check_new_output

    for f in files:
        if f is not None:
            check_new_output(f, overwrite)
    for d in folders:
        if d is not None:
            check_new_output(d, overwrite, folder=True)


PRECISION_HELP = ("auto (the artifact's own) | fp32 | fp16 | bf16: the inference precision, for engines that can "
                  "choose (OpenVINO); the others run the artifact as stored.")


@app.command("stream", rich_help_panel=PANEL)
def stream_cmd(
    source: str = typer.Argument(..., help="Video file, image folder or glob, /dev/videoN, lavfi:GRAPH, or an "
                                           "rtsp:// / http:// URL."),
    model: Path = typer.Option(..., "--model", "-m", help="Artifact: .onnx, .xml (OpenVINO IR), .engine (TensorRT) "
                                                          "or .safetensors (PyTorch)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Video file (.mp4/.mkv/...), image folder, "
                                                                      "an image file (.png) for a single-image "
                                                                      "source, or omit for no output."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help=OVERWRITE_HELP),
    backend: str = typer.Option("auto", help=backend_help()),
    device: str = typer.Option("auto", help="auto | cpu | cuda[:N] | an OpenVINO device name (GPU, NPU)"),
    batch: int = typer.Option(1, min=1, help="Frames per inference call."),
    codec: str = typer.Option("h264", help="h264 (libx264) or ffv1 (lossless, .mkv)"),
    crf: int = typer.Option(18, help="H.264 quality (lower is better)."),
    preset: str = typer.Option("veryfast", help="libx264 preset."),
    mode: str = typer.Option("auto", help="auto | latency | throughput. Latency mode drops the oldest waiting frame "
                                          "of a live source under load (counted); files never drop."),
    live: Optional[bool] = typer.Option(None, "--live/--not-live", help="Treat the source as live (default: "
                                                                         "cameras and rtsp/rtmp/udp/srt; a lavfi graph "
                                                                         "only with --live)."),
    max_frames: Optional[int] = typer.Option(None, min=1, help="Stop once this many frames are written."),
    lookahead: int = typer.Option(0, min=0, max=8, help="Temporal models: frames of delay; each output also uses "
                                                       "the next frames where the scene is still (0: causal). For "
                                                       "static cameras: on moving footage in low light it can ghost."),
    flush_interval: Optional[float] = typer.Option(None, min=0.0, help="Seconds between forced writes of a video "
                                                   "output (.mkv clusters, fragmented .mp4), bounding what a kill "
                                                   "loses to about twice this. Default: 1 for live sources and for "
                                                   ".mkv/.webm outputs; 0 (off) for other file outputs: a plain .mp4, "
                                                   "written under a temporary name and renamed when complete."),
    tile: Optional[str] = typer.Option(None, help="Tile frames larger than WxH (engines with a maximum shape "
                                                  "are always tiled)."),
    overlap: int = typer.Option(64, min=0, help="Tile overlap in pixels (blended)."),
    fps: float = typer.Option(25.0, help="Frame rate for image inputs."),
    retries: int = typer.Option(5, min=0, help="Reconnection attempts for a live/network source (exponential "
                                               "backoff from --backoff seconds)."),
    backoff: float = typer.Option(0.5, min=0.0),
    timeout: float = typer.Option(10.0, min=0.1, help="Seconds a network read may block."),
    threads: Optional[int] = typer.Option(None, min=1, help="Engine threads (default: all cores)."),
    precision: str = typer.Option("auto", help=PRECISION_HELP),
    queue_size: int = typer.Option(4, min=1, help="Depth of each queue between stages."),
    progress: str = typer.Option("auto", help="auto | bar | plain | none"),
    stats_json: Optional[Path] = typer.Option(None, help="Also write the run's statistics as JSON."),
    input_option: List[str] = typer.Option([], "--input-option", "-I",
                                           help="FFmpeg demuxer option KEY=VALUE, repeatable (e.g. "
                                                "rtsp_flags=listen to receive an RTSP push, video_size=1280x720)."),
):
    """Denoise a video, image sequence, camera or stream.

    Decode, preprocess, infer, postprocess and encode run in separate threads joined by
    bounded queues; frame order, timestamps and audio are kept. Ctrl-C finishes the output
    so it stays playable. Live sources to .mkv or .mp4 (fragmented), and files to .mkv, are flushed
    every second: after a kill, every frame written more than about 2 s earlier is in the file. A
    file to .mp4 appears under its name only when complete (a kill leaves no broken .mp4).

      hushframe stream clip.mp4 -m student.onnx -o clean.mp4

      hushframe stream frames/ -m student.xml -o clean_frames/

      hushframe stream photo.png -m student.onnx -o clean.png

      hushframe stream rtsp://camera/stream -m student.onnx -o live.mkv --codec ffv1

    Exit codes:

      0 done; 1 a bug (with a traceback); 2 bad input, or nothing written;

      3 a live source lost after --retries; 130 interrupted by Ctrl-C, 143 stopped by SIGTERM
      (docker stop, systemd): the output is finalized either way;

      4 the output cannot be written (missing folder, exists without --overwrite, disk full).
    """
    from .options import RunOptions
    from .signals import stop_on_sigterm
    from .sources import open_source
    from .stream import stream_video

    options = RunOptions(backend=backend, device=device, threads=threads, tile=tile, overlap=overlap,
                         precision=precision)
    _check_outputs(overwrite, files=[stats_json])
    opts = {}
    for kv in input_option:
        if "=" not in kv:
            raise typer.BadParameter(f"--input-option {kv!r}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        opts[k] = v
    src = open_source(source, fps=fps, live=live, retries=retries, backoff=backoff, timeout=timeout, options=opts)
    from hushframe.core.progress import STYLES, Progress

    if progress not in STYLES:
        raise typer.BadParameter(f"--progress {progress!r}: one of {', '.join(STYLES)}")
    bar = Progress("stream", src.total, style=progress, unit="fps", every=1.0, transient=True, noun="frames")

    def on_backend(be):
        sel = getattr(be, "selection", "")
        typer.echo(f"backend: {be.info.describe()}" + (f" [{sel}]" if sel else ""), err=True)

    stats = None
    exc = None
    try:
        with stop_on_sigterm() as term:
            stats = stream_video(src, model, output, options=options, batch=batch, codec=codec, crf=crf,
                                 preset=preset, mode=mode, max_frames=max_frames, queue_size=queue_size,
                                 progress=lambda st: bar.update(st.frames_out, dropped=st.dropped), on_backend=on_backend,
                                 overwrite=overwrite, flush_interval=flush_interval, lookahead=lookahead)
    except Exception as e:
        exc = e
        stats = getattr(e, "stats", None)
    finally:
        bar.close()
    if stats is not None:
        for w in stats.warnings[:20]:
            typer.echo(f"warning: {w}", err=True)
        typer.echo(stats.line(), err=True)
        if stats_json is not None:
            from hushframe.core.atomic import write_json_atomic

            write_json_atomic(stats_json, stats.summary())
        if output and stats.frames_out:
            typer.echo(f"wrote {_plural(stats.frames_out, 'frame')} -> {output}", err=True)
    if exc is not None:
        raise exc
    if stats is not None and stats.interrupted:
        typer.echo(f"hushframe: {'terminated' if term.received else 'interrupted'} (output finalized)", err=True)
        raise SystemExit(143 if term.received else 130)  # (typer.Exit is swallowed under standalone_mode=False)


@app.command("parity", rich_help_panel=PANEL)
def parity_cmd(
    artifact: Path = typer.Argument(..., help="The artifact under test (.onnx, .xml, .engine, ...)."),
    pairs: Optional[Path] = typer.Option(None, help="Paired set: folder (NAME_real/NAME_mean, NOISY/GT) or SIDD .mat."),
    clean: Optional[Path] = typer.Option(None, help="Ground-truth folder when --pairs holds only noisy images."),
    video: Optional[str] = typer.Option(None, help="Compare on frames of this video instead (no ground truth)."),
    reference: Optional[Path] = typer.Option(None, "--reference", "-r",
                                             help="Reference model: our .safetensors (PyTorch FP32) or any artifact. "
                                                  "Default: the one the artifact was made from, found through the "
                                                  "manifests (the .safetensors, or without torch its fp32 .onnx)."),
    reference_output: Optional[Path] = typer.Option(None, help="Folder of reference outputs (PNG) computed earlier: "
                                                               "no torch needed."),
    save_reference_output: Optional[Path] = typer.Option(None, help="Write the reference outputs here as PNGs."),
    backend: str = typer.Option("auto", help=f"Backend for the artifact: {backend_help()}"),
    reference_backend: str = typer.Option("auto", help="Backend for the reference model (as --backend)."),
    device: str = typer.Option("auto"),
    max_drop: Optional[float] = typer.Option(0.10, help="Maximum mean PSNR drop vs the reference, dB (pairs)."),
    max_image_drop: Optional[float] = typer.Option(0.30, help="Maximum PSNR drop on any single image, dB (pairs)."),
    max_ssim_drop: Optional[float] = typer.Option(None, help="Maximum mean SSIM drop (pairs)."),
    min_output_psnr: Optional[float] = typer.Option(None, help="Minimum PSNR between the two outputs, dB "
                                                               "(default 40 for --video)."),
    every: int = typer.Option(1, min=1, help="Use every N-th pair/frame."),
    limit: Optional[int] = typer.Option(None, min=1, help="At most this many pairs."),
    max_frames: int = typer.Option(30, min=1, help="Frames compared with --video."),
    tile: Optional[str] = typer.Option(None, help="Tile the artifact's input above WxH."),
    overlap: int = typer.Option(64, min=0, help="Tile overlap in pixels (blended)."),
    threads: Optional[int] = typer.Option(None, min=1, help="Engine threads for the artifact (default: all cores)."),
    precision: str = typer.Option("auto", help=PRECISION_HELP),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the result as JSON."),
    markdown_out: Optional[Path] = typer.Option(None, "--markdown", help="Write the result as Markdown."),
    out_prefix: Optional[Path] = typer.Option(None, "-o", "--output",
                                              help="Write PREFIX.json and PREFIX.md."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help=OVERWRITE_HELP),
    lookahead: int = typer.Option(0, min=0, max=8, help="Temporal models on --video: frames of delay, the same "
                                                       "for the artifact and the reference (as stream --lookahead)."),
):
    """Check an artifact against the PyTorch FP32 reference; exit 1 when a threshold fails (a CI gate).

      hushframe parity student-int8.xml --pairs polyu-dev/ -o parity   # reference from the manifests

      hushframe parity student.onnx --pairs polyu-dev/ -r student.safetensors -o parity

      hushframe parity student.xml --pairs polyu-dev/ --reference-output ref_png/ --max-drop 0.1

      hushframe parity temporal-int8.xml --video camera.mkv --lookahead 4   # a temporal model, as streamed
    """
    from .options import RunOptions
    from .parity import ParityError, ParityThresholds, pair_items, run_parity, video_items

    options = RunOptions(backend=backend, device=device, threads=threads, tile=tile, overlap=overlap,
                         precision=precision)
    reference_options = RunOptions(backend=reference_backend, device=device, overlap=overlap)
    thresholds = ParityThresholds(max_drop=max_drop, max_image_drop=max_image_drop, max_ssim_drop=max_ssim_drop,
                                  min_output_psnr=min_output_psnr)
    if out_prefix is not None:
        json_out = json_out or out_prefix.with_name(out_prefix.name + ".json")
        markdown_out = markdown_out or out_prefix.with_name(out_prefix.name + ".md")
    _check_outputs(overwrite, files=[json_out, markdown_out], folders=[save_reference_output])
    if (pairs is None) == (video is None):
        raise ParityError("give either a paired set (--pairs) or a video (--video)")
    items = (pair_items(pairs, clean, every=every, limit=limit) if pairs is not None
             else video_items(video, every=every, max_frames=max_frames))
    if reference is None and reference_output is None:
        reference = _reference_from_manifests(artifact)

    def prog(i, n, row):
        if sys.stderr.isatty() or i == 1 or i % 10 == 0 or i == n:
            typer.echo(f"\r{i}/{n or '?'} {row['name']}: outputs {row['output_psnr']:.2f} dB",
                       err=True, nl=not sys.stderr.isatty())

    res = run_parity(artifact, items, reference=reference, reference_output=reference_output,
                     save_reference_output=save_reference_output, options=options,
                     reference_options=reference_options, thresholds=thresholds, json_path=json_out,
                     markdown_path=markdown_out, progress=prog, lookahead=lookahead)
    if sys.stderr.isatty():
        typer.echo("", err=True)
    typer.echo(res.to_markdown())
    if not res.passed:
        raise SystemExit(1)


def _reference_from_manifests(artifact: Path) -> Path:
    """The model the artifact was made from (runtime/lineage.py), said on stderr; one line if none."""
    from .errors import ArtifactError
    from .lineage import find_reference

    if not artifact.exists():
        raise ArtifactError(f"{artifact}: no such model artifact")
    ref, lin = find_reference(artifact)
    if ref is None:
        why = lin.stopped or (f"its manifests lead to no fp32 model ({lin.shown()})" if len(lin.chain) > 1
                              else f"no manifest beside it names its source ({artifact.name}.manifest.json)")
        raise ArtifactError(f"{artifact}: no reference given and none found: {why}; give --reference MODEL "
                            f"or --reference-output FOLDER")
    typer.echo(f"reference: {ref} (from the manifests: {lin.shown()})", err=True)
    return ref


@app.command("bench", rich_help_panel=PANEL)
def bench_cmd(
    artifacts: List[Path] = typer.Argument(..., help="One or more artifacts."),
    backend: List[str] = typer.Option(["auto"], help="auto, all (every installed backend that loads the artifact), "
                                                     f"or one of {', '.join(list_backends())}; repeatable."),
    size: List[str] = typer.Option(["512x512", "1920x1080"], help="WIDTHxHEIGHT or 720p/1080p/4k; repeatable."),
    batch: List[int] = typer.Option([1], help="Batch size; repeatable."),
    warmup: int = typer.Option(1, min=0, help="Untimed calls first (engine set-up, caches)."),
    iterations: int = typer.Option(10, min=1, help="At least this many timed calls."),
    min_seconds: float = typer.Option(3.0, "--duration", "--min-seconds", min=0.0,
                                      help="And keep timing until this many seconds have passed (as trtexec "
                                           "--duration / benchmark_app -t)."),
    device: str = typer.Option("auto"),
    threads: Optional[int] = typer.Option(None, min=1),
    precision: str = typer.Option("auto", help=PRECISION_HELP),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Save the rows as JSON."),
    overwrite: bool = typer.Option(False, "--overwrite", "-y", help=OVERWRITE_HELP),
    lookahead: int = typer.Option(0, min=0, max=8, help="Temporal models: time with this many frames of delay, "
                                                       "on a still scene (the blend's worst case)."),
):
    """Latency and throughput per backend, precision and resolution, as a table (and JSON).

    Each row times at least --iterations calls and at least --duration seconds; p95 is shown
    from 20 timed calls on (fewer make it meaningless).

      hushframe bench student.onnx student_int8.xml --backend all --size 512x512 --size 1080p --json bench.json

      hushframe bench temporal-int8.xml --size 1080p --lookahead 4   # a temporal model, 4 frames of delay
    """
    from .bench import check_sizes, format_table, run_bench
    from .options import RunOptions

    options = RunOptions(device=device, threads=threads, precision=precision)
    _check_outputs(overwrite, files=[json_out])
    check_sizes(size, batch)

    def prog(row):
        typer.echo(f"{row['artifact']} on {row['backend']} {row['size']} b{row['batch']}: "
                   f"{row['latency_ms_p50']} ms, {row['throughput_fps']} fps ({row['iterations']} calls)", err=True)

    rows = run_bench(artifacts, backends=backend, sizes=size, batches=batch, warmup=warmup, iterations=iterations,
                     min_seconds=min_seconds, options=options, json_path=json_out, progress=prog, lookahead=lookahead)
    typer.echo(format_table(rows))


@app.command("backends", rich_help_panel=PANEL)
def backends_cmd(artifact: Optional[Path] = typer.Argument(None, help="Show what can run this artifact.")):
    """List the inference backends installed here (and which one `--backend auto` picks).

    With an artifact, each installed backend that takes its format loads it: "ok" means it did.

      hushframe backends

      hushframe backends student-int8.xml   # can it run here, and on which engine
    """
    from .artifact import load_artifact
    from .backends.base import available_backends, open_backend, select_backend
    from .errors import ArtifactError
    from hushframe.core.errors import HushframeError

    art = load_artifact(artifact) if artifact else None
    loaded, problems = [], []
    for name, why in available_backends(art).items():
        if art is not None and not why:
            try:  # installed is not enough: a damaged file loads nowhere (issue 27)
                open_backend(art, backend=name).close()
                loaded.append(name)
            except HushframeError as e:
                problems.append(str(e))
                why = "cannot load it: " + str(e).removeprefix(f"{art.path}: ")
        typer.echo(f"{name:12s} {'ok' if not why else 'unavailable: ' + why}")
    if art is not None:
        if not loaded:
            raise ArtifactError(problems[0] if problems else f"{art.path}: no backend installed here takes a "
                                                             f"{art.format} artifact")
        cls, why = select_backend(art, "auto")
        typer.echo(f"auto -> {cls.name} ({why})")


def register(root: typer.Typer) -> None:
    """Add this module's commands to the `hushframe` app (called by toolkit/cli/main.py)."""
    root.add_typer(app)
