"""INT8 activation codes on the CPU students (issues 12 and 13): what each recipe choice costs.

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
from _report import ROOT, command_line, git_rev, machine, versions, write_section  # noqa: E402

SHARED = ROOT.parent / "shared"
RECIPES = {  # label -> quantize_int8_model keywords
    "signed codes everywhere": dict(unsigned_relu=False),
    "unsigned after ReLU, image convs int8 (exact input)": dict(keep_image_convs="int8"),
    "unsigned after ReLU, image convs float": dict(keep_image_convs="float"),
    "unsigned after ReLU, image convs auto (default: int8 but where a dither compensation rides on them)": {},
}


def tuning_split(pairs_dir: Path):
    from hushframe.core.pairs import find_pairs

    pairs = find_pairs(pairs_dir)
    return pairs[::5] + [p for p in pairs if "bicycle_8" in str(p.noisy)]


def drops(fp32, q, data, multiple: int) -> list[float]:
    from hushframe.export.onnx_export import ort_session
    from hushframe.runtime.frames import from_output, to_batch
    from hushframe.core.metrics import psnr

    ref, test = ort_session(fp32), ort_session(q)
    out = []
    for noisy, clean in data:
        x = to_batch([noisy], multiple)
        h, w = noisy.shape[:2]
        a = from_output(ref.run(["output"], {"input": x})[0][0], h, w)
        b = from_output(test.run(["output"], {"input": x})[0][0], h, w)
        out.append(psnr(clean, a) - psnr(clean, b))
    return out


def load_model(spec: str, calibration: str):
    """``LABEL=fp32.onnx`` -> (label, model, size multiple, the quantizer's default calibration crops)."""
    import onnx

    from hushframe.export.calibration import DEFAULT_CROP_SIZE, DEFAULT_CROPS, calibration_crops
    from hushframe.export.contract import onnx_settings

    label, _, path = spec.partition("=")
    model = onnx.load(path)
    multiple = int(onnx_settings(model, path)["size_multiple"])
    return label, model, multiple, calibration_crops(calibration, DEFAULT_CROPS, DEFAULT_CROP_SIZE, 0, multiple)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", action="append", required=True, help="LABEL=fp32.onnx (a hushframe export)")
    ap.add_argument("--pairs", default=str(SHARED / "data" / "polyu-dev"))
    ap.add_argument("--calibration", default=str(SHARED / "data" / "polyu-train-noisy"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--section", default="int8-kinds", help="BENCHMARKS.md section to write (int8-kinds-student-c: "
                    "the published student C, whose image-conv modes are what changes there)")
    a = ap.parse_args()
    from hushframe.export.quantize import quantize_int8_model

    data = [p.load() for p in tuning_split(Path(a.pairs))]
    table = ["| student | INT8 recipe | float share of MACs | mean drop (dB) | worst image (dB) |",
             "| --- | --- | --- | --- | --- |"]
    for spec in a.model:
        label, model, multiple, crops = load_model(spec, a.calibration)
        for name, kw in RECIPES.items():
            q, rep = quantize_int8_model(model, crops, target="avx2", **kw)
            d = drops(model, q, data, multiple)
            table.append(f"| {label} | {name} | {rep['float_mac_share']:.1%} | {np.mean(d):.3f} | {max(d):.3f} |")
            print(table[-1], flush=True)
    body = "\n".join([
        f"Command: `{command_line()}` (commit {git_rev()})",
        f"Machine: {machine()}",
        f"Versions: {versions('onnx', 'onnxruntime', 'numpy')}",
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
