"""Where an INT8 IR's time goes in OpenVINO's CPU plugin: per-layer times, next to another IR's.

    python benchmarks/openvino_profile.py runs/int8-latency/student-c-int8.xml \
        runs/int8-latency/student-c-nncf-default.xml [--size 1088x1920] [--rounds 5] [--top 16]

Each IR is reshaped to the fixed size (what hushframe's runtime runs: a static copy per frame size),
compiled with PERF_COUNT, 2 threads, the f32 hint, warmed twice, then run ``--rounds`` times
alternating with the others; OpenVINO's per-node real times are averaged over the rounds. Prints and
writes (section ``--section``, default 'openvino-profile', of BENCHMARKS.md) each IR's median wall time and its slowest
nodes with the kernel that ran them (``jit_avx2_I8`` = int8, ``*_f32`` = float). A profile, not a
latency benchmark: compare IRs with ``int8_latency.py``, which interleaves more rounds.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_section  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ir", nargs="+", help="OpenVINO .xml files; PATH@bf16 compiles that one with the bf16 "
                    "inference-precision hint (its float layers in bf16 on AMX/AVX512-BF16 CPUs), PATH@f32 is the default")
    ap.add_argument("--size", default="1088x1920", help="HxW")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--top", type=int, default=16)
    ap.add_argument("--section", default="openvino-profile",
                    help="BENCHMARKS.md section to write (openvino-profile-taps: the last conv padded vs as taps)")
    ap.add_argument("--title", default="Where INT8 time goes in OpenVINO (per-layer profile, issue 13)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    import openvino as ov

    from hushframe.runtime.cpu_isa import describe_cpu

    h, w = (int(v) for v in a.size.lower().split("x"))
    core = ov.Core()
    cfg = {"PERF_COUNT": True, "INFERENCE_NUM_THREADS": a.threads, "INFERENCE_PRECISION_HINT": "f32",
           "PERFORMANCE_HINT": "LATENCY"}
    reqs = {}
    for path in a.ir:
        file, _, hint = path.partition("@")
        m = core.read_model(file)
        m.reshape({m.inputs[0]: [1, 3, h, w]})
        reqs[path] = core.compile_model(m, "CPU", dict(cfg, INFERENCE_PRECISION_HINT=hint or "f32")).create_infer_request()
    x = np.random.default_rng(0).random((1, 3, h, w), dtype=np.float32)
    for r in reqs.values():
        r.infer({0: x})
        r.infer({0: x})
    wall = {p: [] for p in reqs}
    nodes = {p: collections.Counter() for p in reqs}
    for i in range(a.rounds):
        for p in (a.ir if i % 2 == 0 else a.ir[::-1]):
            t = time.perf_counter()
            reqs[p].infer({0: x})
            wall[p].append((time.perf_counter() - t) * 1000)
            for info in reqs[p].profiling_info:
                nodes[p][(info.node_name, info.node_type, info.exec_type)] += info.real_time.total_seconds() * 1000 / a.rounds
    parts = []
    for p in a.ir:
        rows = [f"| {ms:.1f} | {kind} | {kernel} | `{name}` |" for (name, kind, kernel), ms in nodes[p].most_common(a.top)]
        ratio = np.median(np.array(wall[p]) / np.array(wall[a.ir[0]]))  # per round: IRs run back to back
        parts.append(f"**{Path(p).name}**: median {np.median(wall[p]):.0f} ms over {a.rounds} rounds "
                     f"(per-round ratio to {Path(a.ir[0]).name}: median {ratio:.3f}); the nodes' times "
                     f"sum to {sum(nodes[p].values()):.0f} ms.\n\n| ms | node | kernel | name |\n| --- | --- | --- | --- |\n"
                     + "\n".join(rows))
    body = "\n".join([
        *provenance("openvino", machine_note=describe_cpu()),
        f"{h}x{w}, batch 1, {a.threads} threads, f32 hint (unless the name says @bf16), fixed shape, PERF_COUNT; per-node "
        f"real time averaged over "
        f"{a.rounds} rounds (IRs alternating). A profile to see where the time goes, not a latency comparison "
        "(that is `int8-latency`).", "", "\n\n".join(parts)])
    print(body)
    if not a.no_write:
        write_section(a.section, a.title, body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
