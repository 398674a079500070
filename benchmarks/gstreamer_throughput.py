"""The GStreamer element vs ``hushframe stream`` on the same frames and model, interleaved in one run.

    python benchmarks/gstreamer_throughput.py [--frames 24] [--rounds 3] [--size 640x360] [--model m.xml]

Frames: ``smooth_frames`` written as one PNG folder that both tools read. Per round, in turn:

* stream: ``hushframe stream FRAMES/ --model M --backend openvino`` (no output); fps = the
  frames / wall time it reports (decode, pad, infer, crop threads; after the model is loaded);
* gst RGB: ``multifilesrc ! pngdec ! videoconvert ! RGB ! queue ! hushframe ! fakesink``; fps =
  the frames / seconds of the element's ``hushframe-stats`` message (first buffer in to last out);
* gst NV12: the same with ``format=NV12`` (conversion inside the OpenVINO graph), and with
  ``convert=numpy`` (numpy conversion around the plain model).

Whole-process wall times (interpreter start, imports, model compile included) are reported too.

Colour paths, in process (section "gstreamer-color-paths"): the element's frame engine on one
1280x720 frame, RGB vs NV12 converted inside the OpenVINO graph vs NV12 converted in numpy,
interleaved, median ms per frame, with a small student (width 8: the conversion is visible) and
with student C; ``--paths-only`` runs just this part.
The NV12 vs RGB cost is the element's own time per frame (conversion + inference, the
``infer-seconds`` of its message). Without --model, student C (random weights, same compute) is
exported to ONNX and compiled to OpenVINO IR fp32 here. Needs gst-launch-1.0 and the Python
plugin loader (see README); GST_REGISTRY points at a temp file so the user's cache is untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import ROOT, provenance_text, write_section  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "gstreamer_throughput.json"


def build_model(tmp: Path) -> tuple[Path, str]:
    from hushframe.runtime.testing import export_onnx, export_openvino
    from hushframe.toolkit.models import create_model

    onnx = export_onnx(create_model("student_c").eval(), tmp / "student_c.onnx")
    return export_openvino(onnx, tmp / "student_c.xml"), "student C, random weights (same compute), OpenVINO IR fp32"


def run_stream(frames: Path, model: Path, threads: int, env) -> dict:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "hushframe.toolkit.cli", "stream", str(frames), "--model", str(model),
                        "--backend", "openvino", "--threads", str(threads), "--progress", "none"],
                       capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"stream failed: {r.stderr[-1500:]}")
    m = re.search(r"(\d+) frames in ([\d.]+) s: ([\d.]+) fps", r.stderr + r.stdout)
    if not m:
        raise SystemExit(f"no stats line from stream: {r.stderr[-1500:]}")
    return {"frames": int(m.group(1)), "seconds": float(m.group(2)), "fps": float(m.group(3)), "process_s": wall}


def run_gst(frames: Path, model: Path, threads: int, fmt: str, convert: str, env) -> dict:
    pipe = (f"multifilesrc location={frames}/%03d.png index=0 caps=image/png,framerate=25/1 ! pngdec ! videoconvert ! "
            f"video/x-raw,format={fmt} ! queue ! hushframe model={model} backend=openvino threads={threads} "
            f"convert={convert} ! fakesink")
    t = time.perf_counter()
    r = subprocess.run(["gst-launch-1.0", "-m"] + pipe.split(), capture_output=True, text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t
    line = next((ln for ln in r.stdout.splitlines() if "hushframe-stats" in ln), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(f"gst-launch failed: {(r.stdout + r.stderr)[-1500:]}")
    val = dict(re.findall(r"([\w-]+)=\([a-z]+\)([^,;]+)", line))
    n, s = int(val["frames"]), float(val["seconds"])
    return {"frames": n, "seconds": s, "fps": n / s, "process_s": wall, "element_ms": 1000 * float(val["infer-seconds"]) / n,
            "path": val["path"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, help="OpenVINO IR or ONNX (default: student C exported here)")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md / results JSON")
    ap.add_argument("--paths-only", action="store_true", help="only the in-process colour-path timing")
    ap.add_argument("--reps", type=int, default=7, help="colour paths: frames per path")
    args = ap.parse_args(argv)
    color_paths(args)
    if args.paths_only:
        return 0

    from hushframe.runtime.gstreamer.cli import inspect_element
    from hushframe.runtime.gstreamer.plugin import gst_env, plugin_path
    from hushframe.runtime.testing import smooth_frames
    from hushframe.core.images import write_image

    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        os.environ["GST_REGISTRY"] = str(tmp / "registry.bin")
        env = gst_env(GST_PLUGIN_PATH=str(plugin_path()))
        ok, why = inspect_element(plugin_path())
        if not ok:
            raise SystemExit(f"the element is not usable here: {why}")
        model, what = (args.model, str(args.model)) if args.model else build_model(tmp)
        frames = tmp / "frames"
        frames.mkdir()
        for i, f in enumerate(smooth_frames(args.frames, h, w, seed=0)):
            write_image(frames / f"{i:03d}.png", f)
        runs = {"stream": [], "gst RGB": [], "gst NV12 (engine graph)": [], "gst NV12 (convert=numpy)": []}
        for k in range(args.rounds):
            runs["stream"].append(run_stream(frames, model, args.threads, env))
            runs["gst RGB"].append(run_gst(frames, model, args.threads, "RGB", "auto", env))
            runs["gst NV12 (engine graph)"].append(run_gst(frames, model, args.threads, "NV12", "auto", env))
            runs["gst NV12 (convert=numpy)"].append(run_gst(frames, model, args.threads, "NV12", "numpy", env))
            print(f"round {k + 1}: " + ", ".join(f"{n} {r[-1]['fps']:.3f} fps" for n, r in runs.items()), flush=True)

    def total(name, key="fps"):
        rs = runs[name]
        if key == "fps":
            return sum(r["frames"] for r in rs) / sum(r["seconds"] for r in rs)
        return sum(r[key] for r in rs) / len(rs)

    ratio = total("gst RGB") / total("stream")
    e2e = total("stream", "process_s") / total("gst RGB", "process_s")
    rgb_ms, nv_ms, np_ms = (total(n, "element_ms") for n in ("gst RGB", "gst NV12 (engine graph)", "gst NV12 (convert=numpy)"))
    print(f"ratio gst RGB / stream: {ratio:.3f} (target >= 0.90); whole process: {e2e:.3f}")
    print(f"element ms per frame: RGB {rgb_ms:.1f}, NV12 engine graph {nv_ms:.1f}, NV12 numpy {np_ms:.1f}")
    def row(n):
        ms = "" if n == "stream" else f"{total(n, 'element_ms'):.1f}"
        return f"| {n} | {sum(r['frames'] for r in runs[n])} | {total(n):.3f} | {total(n, 'process_s'):.1f} | {ms} |"

    rows = "\n".join(row(n) for n in runs)
    body = f"""{provenance_text("openvino", "numpy", sep=chr(10) * 2)}, {_gst_version()}.

Model: {what}; backend openvino, {args.threads} threads on both sides. Frames: {args.frames} PNG frames of
{w}x{h} (padded to the engine's multiple inside), the same folder for both tools, {args.rounds} rounds interleaved
(stream, gst RGB, gst NV12, gst NV12 numpy, then again).

| run | frames | fps (in pipeline) | whole process, s per run | element ms per frame (conversion + inference) |
| --- | --- | --- | --- | --- |
{rows}

**Ratio gst-launch (RGB) / `hushframe stream`: {ratio:.3f}** (target >= 0.90; fps from the element's first buffer
to its last vs stream's own figure after the model load); whole-process time stream / gst-launch: {e2e:.3f}.
NV12 vs RGB, the element's time per frame: conversion inside the OpenVINO graph {nv_ms:.1f} ms vs RGB {rgb_ms:.1f} ms
({nv_ms / rgb_ms:.3f}x); numpy conversion around the plain model {np_ms:.1f} ms ({np_ms / rgb_ms:.3f}x).
Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine: other jobs ran too).
"""
    if not args.no_write:
        write_section("gstreamer-throughput", "GStreamer element vs hushframe stream", body)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"ratio_gst_rgb_over_stream": ratio, "process_ratio": e2e,
                                       "element_ms": {"rgb": rgb_ms, "nv12_engine": nv_ms, "nv12_numpy": np_ms},
                                       "runs": runs, "size": [w, h], "threads": args.threads}, indent=2) + "\n")
    return 0 if ratio >= 0.9 else 1


def color_paths(args) -> None:
    """Median ms per 1280x720 frame through FrameEngine: RGB, NV12 in the graph, NV12 in numpy (interleaved)."""
    import statistics

    import numpy as np

    from hushframe.runtime.frames import to_chw
    from hushframe.runtime.gstreamer.engine import FrameEngine
    from hushframe.runtime.gstreamer.yuv import ColorSpace, chw_to_yuv420
    from hushframe.runtime.testing import export_onnx, export_openvino, smooth_frames, tiny_student
    from hushframe.toolkit.models import create_model

    h, w = 720, 1280
    img = smooth_frames(1, h, w, seed=0)[0]
    cs = ColorSpace.named("bt709")
    y, u, v = chw_to_yuv420(to_chw(img), cs)
    uv = np.stack([u, v], -1)
    rows, out = [], {}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        models = [("identity (the conversions alone)", None), ("student C width 8 (small)", tiny_student(seed=0)),
                  ("student C", create_model("student_c").eval())]
        for name, net in models:
            xml = identity_model(tmp / "identity.xml") if net is None else \
                export_openvino(export_onnx(net, tmp / "m.onnx", size=(64, 64)), tmp / "m.xml")
            engines = {"RGB": FrameEngine(xml, threads=args.threads), "NV12 engine graph": FrameEngine(xml, threads=args.threads),
                       "NV12 numpy": FrameEngine(xml, threads=args.threads, convert="numpy")}
            engines["RGB"].configure("RGB", h, w)
            engines["NV12 engine graph"].configure("NV12", h, w, cs)
            engines["NV12 numpy"].configure("NV12", h, w, cs)
            planes = {"RGB": lambda: [img.copy()], "NV12 engine graph": lambda: [y.copy(), uv.copy()],
                      "NV12 numpy": lambda: [y.copy(), uv.copy()]}
            times = {k: [] for k in engines}
            for k, e in engines.items():       # warm-up: first-shape allocation
                e.process(planes[k]())
            for _ in range(args.reps):
                for k, e in engines.items():
                    p = planes[k]()
                    t = time.perf_counter()
                    e.process(p)
                    times[k].append(1000 * (time.perf_counter() - t))
            for e in engines.values():
                e.close()
            med = {k: statistics.median(t) for k, t in times.items()}
            out[name] = med
            rows.append(f"| {name} | {med['RGB']:.1f} | {med['NV12 engine graph']:.1f} "
                        f"({med['NV12 engine graph'] / med['RGB']:.3f}x) | {med['NV12 numpy']:.1f} "
                        f"({med['NV12 numpy'] / med['RGB']:.3f}x) |")
            print(f"colour paths, {name}: " + ", ".join(f"{k} {m:.1f} ms" for k, m in med.items()), flush=True)
    body = f"""{provenance_text("openvino", "numpy", sep=chr(10) * 2)}.

One 1280x720 frame through the element's frame engine (engine.FrameEngine, OpenVINO, {args.threads} threads), the three
paths interleaved, {args.reps} frames each after a warm-up, median ms per frame (the frame's planes in, the planes out:
RGB = float conversion, reflect padding to 1280x736, inference, crop/clamp/round; NV12 = the same plus the colour
conversion both ways, BT.709 limited range, inside the compiled graph or in numpy):

| model | RGB, ms | NV12 converted in the OpenVINO graph, ms | NV12 converted in numpy, ms |
| --- | --- | --- | --- |
{chr(10).join(rows)}

Load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine: other jobs ran too).
"""
    if not args.no_write:
        write_section("gstreamer-color-paths", "GStreamer element: cost of the RGB and NV12 paths", body)


def identity_model(xml: Path) -> Path:
    """An OpenVINO IR that returns its input: the frame engine's conversions and copies without a network."""
    import numpy as np
    import openvino as ov
    import openvino.opset13 as ops

    p = ops.parameter([1, 3, -1, -1], ov.Type.f32, name="input")
    o = ops.multiply(p, ops.constant(np.float32(1.0)))
    o.output(0).get_tensor().set_names({"output"})
    ov.save_model(ov.Model([ops.result(o)], [p], "identity"), str(xml))
    return xml


def _gst_version() -> str:
    try:
        out = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True, text=True).stdout
        return next(ln for ln in out.splitlines() if ln.startswith("GStreamer")).replace("GStreamer ", "GStreamer ")
    except Exception:
        return "GStreamer ?"


if __name__ == "__main__":
    sys.exit(main())
