"""Run `hushframe demo` as a user would and record its figures and wall time.

    python benchmarks/demo_run.py [--output /tmp/hushframe-demo]

Writes the 'demo' section of BENCHMARKS.md from the demo's own demo-results.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_section  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", default="/tmp/hushframe-demo-bench")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    out = Path(a.output)
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hushframe.toolkit.cli", "demo", "-o", str(out)], check=True)
    wall = time.perf_counter() - t
    r = json.loads((out / "demo-results.json").read_text())
    lines = ["| what (held-out simulated pairs) | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
    lines += [f"| {q['what']} | {q['psnr']:.2f} | {q['ssim']:.4f} |" for q in r["quality"]]
    s = r["stream"] or {}
    body = "\n".join([
        *provenance("torch", "openvino", "av", note="i.e. `hushframe demo` with no arguments"),
        f"Wall time of the whole demo (process start to exit): **{wall:.0f} s**; "
        f"teacher fine-tune {r['teacher_steps']} steps, distillation {r['distill_steps']} steps.", "",
        *lines, "",
        f"Streaming step (OpenVINO fp32, 24 frames 256x192): {s.get('fps', float('nan')):.1f} fps; "
        f"parity gate (max drop 0.10 dB): {'PASS' if r['parity_passed'] else 'FAIL'}."])
    print(body)
    if not a.no_write:
        write_section("demo", "hushframe demo (issue 2)", body)


if __name__ == "__main__":
    main()
