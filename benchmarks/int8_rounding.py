"""INT8 weight rounding: nearest codes against GPTQ's error-compensating rounding (export/gptq.py).

    python benchmarks/int8_rounding.py --model "published student C=runs/frontier/published-student-c/student.onnx" \
        --model cpu-mid=runs/frontier/cpu-mid/student.onnx

For each fp32 ONNX model, the default INT8 recipe (target avx2: 7-bit weight codes) with
``rounding="nearest"`` and ``rounding="gptq"``, run by ONNX Runtime against its own fp32 export:
on the tuning split of export/README (every fifth polyu-dev pair plus bicycle_8), where the
choice is made, and on all 60 pairs (mean, worst image, mean of the worst 12: the parity gate's
figures). Writes the 'int8-rounding' section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import SHARED, provenance, write_section  # noqa: E402
from _int8 import drops, load_model, tuning_split  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, help="LABEL=fp32.onnx (a hushframe export)")
    ap.add_argument("--pairs", default=str(SHARED / "data" / "polyu-dev"))
    ap.add_argument("--calibration", default=str(SHARED / "data" / "polyu-train-noisy"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    from hushframe.export.calibration import DEFAULT_CROPS
    from hushframe.export.quantize import DEFAULT_METHOD, QuantConfig, quantize_int8_model
    from hushframe.core.pairs import find_pairs

    pairs = find_pairs(Path(a.pairs))
    tune = {str(p.noisy) for p in tuning_split(Path(a.pairs))}
    data = [p.load() for p in pairs]
    in_tune = np.array([str(p.noisy) in tune for p in pairs])
    table = ["| model | rounding | quantize time (s) | tuning split: mean / worst (dB) | all 60: mean | worst image | "
             "worst 12 (mean) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for spec in a.model:
        label, model, multiple, crops = load_model(spec, a.calibration)
        for rounding in ("nearest", "gptq"):
            t = time.perf_counter()
            q, _ = quantize_int8_model(model, crops, QuantConfig(target="avx2", rounding=rounding))
            took = time.perf_counter() - t
            d = np.array(drops(model, q, data, multiple))
            worst = int(np.argmax(d))
            table.append(f"| {label} | {rounding} | {took:.0f} | {d[in_tune].mean():.3f} / {d[in_tune].max():.3f} | "
                         f"{d.mean():.3f} | {d[worst]:.3f} (`{pairs[worst].name}`) | {np.sort(d)[-12:].mean():.3f} |")
            print(table[-1], flush=True)
    body = "\n".join([
        *provenance("onnx", "onnxruntime", "numpy"),
        f"Drop = PSNR of the fp32 export minus PSNR of the INT8 model, both through ONNX Runtime, on {int(in_tune.sum())} "
        f"tuning pairs (every fifth, plus bicycle_8: where the default was chosen) and on all {len(pairs)} polyu-dev pairs. "
        f"Target avx2 (7-bit weight codes), ranges {DEFAULT_METHOD}, automatic keep-float, calibration: {DEFAULT_CROPS} "
        "crops of the noisy training photos (the quantizer's defaults); only the rounding of the weight codes differs.", "", *table])
    print(body)
    if not a.no_write:
        write_section("int8-rounding", "INT8 weight rounding: nearest against GPTQ (issue 13)", body)


if __name__ == "__main__":
    main()
