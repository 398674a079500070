"""By hand: stream N synthetic 4K frames through tiling and record resident memory.

    python benchmarks/reliability_soak.py                 # 10,000 frames (hours on 2 CPU cores)
    python benchmarks/reliability_soak.py --frames 500 --max-seconds 1800

Uses the same harness as tests/test_reliability_stream.py::test_memory_flat_4k_tiling (an identity
1x1-conv ONNX engine in onnxruntime, 512x512 tiles with 64 px overlap, queues of 4, no output), so
the cost is the runtime's own: decode hand-off, padding, tiling, blending, queues. Writes
benchmarks/results/reliability_soak.json (read into RELIABILITY.md by the test suite) and a CSV of
RSS samples. ``--max-seconds`` caps the run: the frames done by then are what is reported.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--size", default="2160x3840", help="HxW")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=None, help="stop cleanly after this long")
    ap.add_argument("--sample-every", type=int, default=10)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "reliability_soak.json"))
    a = ap.parse_args(argv)
    h, w = map(int, a.size.lower().split("x"))

    import tempfile

    from test_reliability_stream import SyntheticSource, identity_onnx, rss

    from hushframe.runtime.backends.base import open_backend
    from hushframe.runtime.pipeline import Pipeline
    from hushframe.runtime.sinks import NullSink

    stop = threading.Event()
    if a.max_seconds:
        threading.Timer(a.max_seconds, stop.set).start()
    samples = []

    def progress(st):
        if st.frames_out % a.sample_every == 0:
            samples.append((st.frames_out, round(time.perf_counter() - t0, 2), rss()))

    rss0 = rss()
    with tempfile.TemporaryDirectory() as d:
        model = identity_onnx(Path(d) / "id.onnx")
        with open_backend(model, backend="onnxruntime", threads=a.threads, max_hw=(a.tile, a.tile)) as be:
            t0 = time.perf_counter()
            st = Pipeline(SyntheticSource(a.frames, h, w), be, NullSink(), queue_size=4, progress=progress,
                          stop_event=stop).run()
            wall = time.perf_counter() - t0
    stop.set()
    warm = [r for f, _, r in samples if f <= a.warmup] or [samples[0][2]]
    after = [r for f, _, r in samples if f > a.warmup] or [samples[-1][2]]
    mib = lambda b: round(b / 2**20, 1)  # noqa: E731
    res = {
        "frames": st.frames_out, "frames_requested": a.frames, "frame_size": f"{w}x{h}",
        "tile": f"{a.tile}x{a.tile}, overlap 64", "backend": st.backend, "warmup_frames": a.warmup,
        "rss_start_mib": mib(rss0), "rss_after_warmup_mib": mib(max(warm)), "rss_end_mib": mib(samples[-1][2]),
        "rss_growth_after_warmup_mib": mib(max(after) - max(warm)), "rss_max_mib": mib(max(r for *_, r in samples)),
        "wall_s": round(wall, 1), "fps": round(st.frames_out / wall, 3), "dropped": st.dropped,
        "date": dt.date.today().isoformat(), "host": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "note": ("capped by --max-seconds: fewer frames than requested" if st.frames_out < a.frames else
                 "full run"),
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2) + "\n")
    out.with_suffix(".csv").write_text("frames,seconds,rss_bytes\n" + "".join(f"{f},{t},{r}\n" for f, t, r in samples))
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
