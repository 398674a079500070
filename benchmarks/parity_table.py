"""The parity table of the published student C on polyu-dev, per backend and precision.

    python benchmarks/parity_table.py --weights ../shared/weights/aprrd-student-c-1.00m-sidd.pth \
        --pairs ../shared/data/polyu-dev --calibration ../shared/data/polyu-train-noisy [--work /tmp/parity-work]

Imports the checkpoint, exports ONNX, quantizes INT8 (calibrated on the noisy photos), compiles
OpenVINO IRs, computes the PyTorch fp32 reference outputs once, then gates every
(artifact, backend) against them with `run_parity`. The INT8 recipe is `quantize`'s default,
``--target auto``: the one for this CPU's kind (runtime/cpu_isa.py), so the table is per CPU kind:
it writes the 'parity' section of BENCHMARKS.md on AVX2-only CPUs and 'parity-vnni' / 'parity-amx'
on the others, naming the recipe and OpenVINO's precision hint. Artifacts stay in --work (derived
from ../shared: never commit them).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_section  # noqa: E402


def hf(*args):
    subprocess.run([sys.executable, "-m", "hushframe.toolkit.cli", *map(str, args)], check=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--work", default="/tmp/hushframe-parity-work")
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("--reference-output", help="PNG outputs of the PyTorch fp32 reference saved by an earlier run "
                    "(default: WORK/reference-outputs, computed when missing)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    from hushframe.core.manifest import read_manifest
    from hushframe.export.openvino_ir import cpu_precision_hint
    from hushframe.runtime.cpu_isa import cpu_kind, describe_cpu
    from hushframe.runtime.parity import run_parity

    w = Path(a.work)
    w.mkdir(parents=True, exist_ok=True)
    st, fp32, int8 = w / "student.safetensors", w / "student.onnx", w / "student-int8.onnx"
    if not st.exists():
        hf("import-weights", a.weights, "-o", st)
    if not fp32.exists():
        hf("export", st, "-o", fp32)
    if not int8.exists():
        hf("quantize", fp32, "-o", int8, "--calibration", a.calibration)
    ov32, ov8 = w / "student.xml", w / "student-int8.xml"
    if not ov32.exists():
        hf("compile", "openvino", fp32, "-o", ov32, "--precision", "fp32")
    if not ov8.exists():
        hf("compile", "openvino", int8, "-o", ov8, "--precision", "int8")
    ref_out = Path(a.reference_output) if a.reference_output else w / "reference-outputs"
    first = not ref_out.exists()
    rows = []
    for art, backend, label in ((fp32, "onnxruntime", "ONNX fp32"), (ov32, "openvino", "OpenVINO IR fp32"),
                                (int8, "onnxruntime", "ONNX int8 Q/DQ"), (int8, "openvino", "ONNX int8 Q/DQ"),
                                (ov8, "openvino", "OpenVINO IR int8")):
        kw = dict(reference=st, save_reference_output=ref_out) if first else dict(reference_output=ref_out)
        first = False
        r = run_parity(art, pairs=a.pairs, backend=backend, every=a.every, max_drop=0.10, max_image_drop=0.30, **kw)
        s = r.summary
        # "Any 12 pairs" passes the mean bound only if the 12 worst images do: their mean drop.
        drops = sorted(i["psnr_drop"] for i in r.images if "psnr_drop" in i)
        worst12 = sum(drops[-12:]) / len(drops[-12:])
        ok = r.passed and worst12 <= 0.10
        rows.append(f"| {label} | {backend} | {s['reference_psnr']:.3f} | {s['artifact_psnr']:.3f} | {s['artifact_ssim']:.4f} "
                    f"| {s['psnr_drop']:.3f} | {s.get('worst_image_drop', float('nan')):.3f} ({s.get('worst_image', '-')}) "
                    f"| {worst12:.3f} | {s['output_psnr']:.1f} | {'PASS' if ok else 'FAIL'} |")
        print(rows[-1], flush=True)
    st = read_manifest(int8)["settings"]
    kind = cpu_kind()
    recipe = (f"INT8: `quantize` defaults on this CPU: target {st.get('int8_target')} "
              f"({read_manifest(int8)['quantization'].get('target_choice', {}).get('why', 'auto')}); OpenVINO runs it "
              f"with the {cpu_precision_hint('int8', st.get('cpu_float_precision'))} precision hint.")
    body = "\n".join([
        *provenance("torch", "onnxruntime", "openvino"),
        f"Published student C on `{a.pairs}` (every {a.every} pair(s)); reference: PyTorch fp32 outputs; gate: mean drop <= 0.10 dB and worst image <= 0.30 dB, and "
        f"the mean of the 12 worst images <= 0.10 dB (so that any 12 of the pairs pass). CPU: {describe_cpu()}. {recipe}", "",
        "| artifact | backend | reference PSNR | artifact PSNR | artifact SSIM | mean drop (dB) | worst image drop (dB) | worst 12 (mean) | PSNR between outputs (dB) | gate |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", *rows])
    print(body)
    if not a.no_write:
        title = "Parity gate per backend and precision (issue 4)"
        if kind == "avx2":  # the section every AVX2 figure has been under
            write_section("parity", f"{title}, AVX2-only CPU", body)
        else:
            write_section(f"parity-{kind}", f"{title}, {kind.upper()} CPU", body)


if __name__ == "__main__":
    main()
