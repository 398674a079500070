"""INT8 activation codes on the CPU students: what each recipe choice costs.

    python benchmarks/int8_kinds.py --model cpu-fast=runs/frontier/cpu-fast/student.onnx \
        --model cpu-mid=runs/frontier/cpu-mid/student.onnx

For each fp32 ONNX student, three INT8 recipes (target avx2, everything else the default):
signed codes everywhere; unsigned codes after ReLU with the image convs quantized too (their
input exactly: scale 1/255); the default (unsigned after ReLU, image convs float). Each is run
by ONNX Runtime against its own fp32 export on the tuning split of export/README (every fifth
polyu-dev pair plus bicycle_8, never all 60). Writes the 'int8-kinds' section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _int8 import drops, load_model, tuning_split  # noqa: E402
from _report import SHARED, provenance, write_section  # noqa: E402

RECIPES = {  # label -> QuantConfig fields
    "signed codes everywhere": dict(unsigned_relu=False),
    "unsigned after ReLU, image convs int8 (exact input)": dict(image_convs="int8"),
    "unsigned after ReLU, image convs float": dict(image_convs="float"),
    "unsigned after ReLU, image convs auto (default: int8 but where a dither compensation rides on them)": {},
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, help="LABEL=fp32.onnx (a hushframe export)")
    ap.add_argument("--pairs", default=str(SHARED / "data" / "polyu-dev"))
    ap.add_argument("--calibration", default=str(SHARED / "data" / "polyu-train-noisy"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--section", default="int8-kinds", help="BENCHMARKS.md section to write (int8-kinds-student-c: "
                    "the published student C, whose image-conv modes are what changes there)")
    a = ap.parse_args()
    from hushframe.export.quantize import QuantConfig, quantize_int8_model

    data = [p.load() for p in tuning_split(Path(a.pairs))]
    table = ["| student | INT8 recipe | float share of MACs | mean drop (dB) | worst image (dB) |",
             "| --- | --- | --- | --- | --- |"]
    for spec in a.model:
        label, model, multiple, crops = load_model(spec, a.calibration)
        for name, kw in RECIPES.items():
            q, rep = quantize_int8_model(model, crops, QuantConfig(target="avx2", **kw))
            d = drops(model, q, data, multiple)
            table.append(f"| {label} | {name} | {rep['float_mac_share']:.1%} | {np.mean(d):.3f} | {max(d):.3f} |")
            print(table[-1], flush=True)
    body = "\n".join([
        *provenance("onnx", "onnxruntime", "numpy"),
        f"Tuning split: {len(data)} polyu-dev pairs (every fifth, plus bicycle_8). Drop = PSNR of the fp32 export minus "
        "PSNR of the INT8 model, both through ONNX Runtime, target avx2 (7-bit weights), calibration: the quantizer's "
        "default crops of the noisy training photos.", "", *table])
    print(body)
    if not a.no_write:
        title = {"int8-kinds": "INT8 activation codes on the CPU students (issues 12, 13)"}.get(
            a.section, f"INT8 activation codes and image-conv modes ({a.section}, issue 13)")
        write_section(a.section, title, body)


if __name__ == "__main__":
    main()
