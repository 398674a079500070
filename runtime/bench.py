"""``run_bench``: latency and throughput per backend, precision and resolution, in one run.

    from hushframe.runtime.bench import run_bench, format_table
    rows = run_bench(["student.onnx", "student_int8.xml"], backends=["all"], sizes=["512x512", "1920x1080"])
    print(format_table(rows))

Each row loads the artifact into one backend, feeds a random frame of the given size
(padded to the engine's multiple, as the stream pipeline does), runs ``warmup`` untimed
iterations, then times iterations until ``iterations`` and ``min_seconds`` are both met
(defaults 10 calls and 3 s, as trtexec's ``--iterations``/``--duration``). p95 is reported
from ``MIN_P95_SAMPLES`` timed calls on, None below. Throughput counts frames per second of
pure inference (batch frames per call).

A temporal model is timed per frame of a stream (flow, state alignment, the graph); with
``lookahead=L`` its scene is held still, every pixel linked to the frame before: the lookahead
blend's worst case (a pan skips it), with outputs leaving L frames late as in a stream.
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from hushframe.core.contract import parse_size

from .errors import RuntimeUserError
from .options import RunOptions


MIN_P95_SAMPLES = 20


def _available_memory() -> int | None:
    """Bytes the kernel says a new allocation can get (MemAvailable), None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_sizes(sizes, batches=(1,)) -> None:
    """Refuse, before loading anything, a size whose input and output buffers alone cannot fit in memory."""
    avail = _available_memory()
    for s in sizes:
        h, w = parse_size(s) if isinstance(s, str) else s
        for b in batches:
            need = 2 * int(b) * 3 * h * w * 4          # float32 input + output, before any activation
            if avail is not None and need > avail:
                raise RuntimeUserError(f"size '{s}' (batch {b}): the input and output buffers alone need "
                                       f"{need / 2**30:.1f} GiB, more than the {avail / 2**30:.1f} GiB of "
                                       f"memory available")


def _backends_for(art, backends):
    from .backends.base import available_backends, select_backend

    if backends in (None, ["auto"], "auto"):
        return [select_backend(art, "auto")[0].name]
    if backends in (["all"], "all"):
        avail = available_backends(art)
        return [n for n, why in avail.items() if not why]
    return list(backends)


def bench_one(backend, h: int, w: int, batch: int = 1, warmup: int = 1, iterations: int = 10,
              min_seconds: float = 3.0, seed: int = 0, overlap: int = 64, lookahead: int = 0) -> dict:
    """Time ``backend.infer`` on a padded batch of random frames of size h x w (opened backend)."""
    from .frames import padded_size
    from .tiling import infer_tiled, needs_tiling

    info = backend.info
    th, tw = padded_size(h, w, info.size_multiple, info.min_hw)
    check_sizes([(h, w)], [batch])
    try:
        x = np.random.default_rng(seed).random((batch, 3, th, tw), dtype=np.float32)
    except MemoryError:
        raise RuntimeUserError(f"size {w}x{h} (batch {batch}): not enough memory for the input") from None
    tiled = needs_tiling(info, th, tw)
    from .temporal import check_lookahead

    check_lookahead(backend, lookahead)
    call = _temporal_step(backend, h, w, batch, seed, lookahead) if info.temporal else None

    def per_frame():
        if tiled:
            return [infer_tiled(backend, xi, overlap=overlap) for xi in x]
        return backend.infer(x)

    call = call or per_frame
    times = []
    try:
        for _ in range(max(0, warmup)):
            call()
        t_end = time.perf_counter() + min_seconds
        while len(times) < max(1, iterations) or time.perf_counter() < t_end:
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
    except MemoryError:
        raise RuntimeUserError(f"{backend.artifact.name}: {info.backend} ran out of memory at {w}x{h} "
                               f"(batch {batch}); try --tile or a smaller size") from None
    arr = np.array(times)
    p95 = round(float(np.percentile(arr, 95) * 1000), 2) if len(arr) >= MIN_P95_SAMPLES else None
    row = {
        "backend": info.backend, "device": info.device, "precision": info.precision,
        "size": f"{w}x{h}", "padded": f"{tw}x{th}", "batch": batch, "tiled": tiled, "iterations": len(times),
        "latency_ms_mean": round(float(arr.mean() * 1000), 2), "latency_ms_p50": round(float(np.median(arr) * 1000), 2),
        "latency_ms_p95": p95,
        "throughput_fps": round(float(batch / arr.mean()), 3),
    }
    if lookahead:
        row["lookahead"] = lookahead
    return row


def _temporal_step(backend, h: int, w: int, batch: int, seed: int, lookahead: int = 0):
    """A temporal model's cost per frame of a stream: align the state (flow, resample) and run
    (input, state) -> (output, state), on a smooth scene panning 1 px a frame (history kept, no cut);
    ``batch`` streams, each with its own state, one frame each per call. With a lookahead the scene is
    still (the blend runs over every pixel) and each call pushes a frame and takes what is final."""
    from .temporal import TemporalSession

    yy, xx = np.mgrid[0:h, 0:w + 64].astype(np.float32)
    rng = np.random.default_rng(seed)
    scene = np.stack([128 + 80 * np.sin(xx / (13 + 4 * c)) * np.cos(yy / (17 + 3 * c)) for c in range(3)], -1)
    sessions = [TemporalSession(backend, lookahead=lookahead) for _ in range(batch)]
    k = [0]

    def call():
        i = 0 if lookahead else k[0] % 64
        frame = np.clip(scene[:, i:i + w] + rng.normal(0, 4, (h, w, 3)), 0, 255).astype(np.uint8)
        if lookahead:
            out = [y for s in sessions for _, y in s.push_image(frame, index=k[0])]
        else:
            out = [s(frame, index=k[0]) for s in sessions]
        k[0] += 1
        return out

    return call


def run_bench(artifacts, *, backends=None, sizes=("512x512",), batches=(1,), warmup: int = 1,
              iterations: int = 10, min_seconds: float = 3.0, options: RunOptions | None = None,
              json_path=None, progress=None, lookahead: int = 0, **run) -> list[dict]:
    """Every artifact x backend x batch x size; returns rows (dicts), optionally saved as JSON.

    ``options`` (:class:`~.options.RunOptions`; ``device=``, ``threads=`` ... are shorthands) says how
    each artifact runs; ``backends`` lists the engines to time it on: names, ``auto`` or ``all`` (every
    installed one that loads it); None: ``options.backend``.
    """
    from .artifact import load_artifact

    options = RunOptions.of(options, **run)
    if backends is None:
        backends = [options.backend]
    check_sizes(sizes, batches)
    if json_path is not None:
        from hushframe.core.atomic import check_output_path

        check_output_path(json_path)      # before the work, not after it
    rows = []
    for a in ([artifacts] if isinstance(artifacts, (str, Path)) else artifacts):
        art = load_artifact(a)
        for name in _backends_for(art, list(backends) if not isinstance(backends, str) else backends):
            with options.replace(backend=name).open(art) as be:
                for b in batches:
                    for s in sizes:
                        h, w = parse_size(s) if isinstance(s, str) else s
                        row = {"artifact": Path(a).name, **bench_one(be, h, w, batch=int(b), warmup=warmup,
                                                                     iterations=iterations, min_seconds=min_seconds,
                                                                     overlap=options.overlap, lookahead=lookahead)}
                        rows.append(row)
                        if progress is not None:
                            progress(row)
    if json_path is not None:
        from hushframe.core.atomic import write_json_atomic

        write_json_atomic(json_path, {"machine": _machine(), "rows": rows})
    return rows


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _machine() -> dict:
    import os

    return {"cpu": cpu_name(), "logical_cpus": os.cpu_count(), "python": platform.python_version(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


COLUMNS = [("artifact", "artifact"), ("backend", "backend"), ("device", "device"), ("precision", "precision"),
           ("size", "size"), ("batch", "batch"), ("latency_ms_p50", "p50 ms"), ("latency_ms_p95", "p95 ms"),
           ("throughput_fps", "fps")]


def format_table(rows: list[dict]) -> str:
    """A Markdown table (readable in a terminal too)."""
    head = "| " + " | ".join(t for _, t in COLUMNS) + " |"
    sep = "| " + " | ".join("---" for _ in COLUMNS) + " |"
    def cell(r, k):
        v = r.get(k, "")
        return ("-" if v is None else str(v)) + (" (tiled)" if k == "size" and r.get("tiled") else "") \
            + (f" (+{r['lookahead']} ahead)" if k == "artifact" and r.get("lookahead") else "")

    body = ["| " + " | ".join(cell(r, k) for k, _ in COLUMNS) + " |" for r in rows]
    return "\n".join([head, sep, *body])
