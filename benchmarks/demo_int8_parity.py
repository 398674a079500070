"""The demo student's INT8 through every installed CPU backend, gated against its fp32 PyTorch outputs.

    python benchmarks/demo_int8_parity.py [--work runs/demo-int8] [--no-write]

The student that ``hushframe demo`` ships (toolkit/assets/demo-student.safetensors) on the demo's
simulated camera (``demo_camera``: no shared data needed): exported to ONNX, quantized with the
``hushframe quantize`` defaults and calibrated on the camera's training frames, compiled to an
OpenVINO IR, then gated on the camera's five held-out pairs (mean drop <= 0.10 dB, worst image
<= 0.30 dB) through ONNX Runtime and OpenVINO (the .onnx and the IR) where installed. The published
student's gate is ``parity_table.py``. Writes the 'demo-int8-parity' section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, provenance, write_section  # noqa: E402


def prepare(work: Path):
    """The demo camera's training frames and held-out pairs as PNGs in ``work`` (rewritten each run)."""
    from hushframe.toolkit.cli.demo_cmd import demo_camera
    from hushframe.toolkit.cli.demo_deploy import write_test_pairs
    from hushframe.core.images import write_image

    for sub in ("train", "pairs"):
        shutil.rmtree(work / sub, ignore_errors=True)
    (work / "train").mkdir(parents=True)
    train, test = demo_camera()
    for i, t in enumerate(train):
        write_image(work / "train" / f"t{i}.png", t)
    return work / "train", write_test_pairs(work / "pairs", test)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(ROOT / "runs" / "demo-int8"), help="git-ignored folder for the artifacts")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    import hushframe.toolkit as tk
    from hushframe.export.onnx_export import export_onnx
    from hushframe.export.quantize import quantize
    from hushframe.runtime.cpu_isa import describe_cpu
    from hushframe.runtime.parity import run_parity

    work = Path(a.work)
    train, pairs = prepare(work)
    student = Path(tk.__file__).parent / "assets" / "demo-student.safetensors"
    for old in work.glob("student*"):
        old.unlink()
    fp32 = export_onnx(student, work / "student.onnx")
    int8 = quantize(fp32, work / "student-int8.onnx", "int8", train)
    runs = [(int8, "onnxruntime")]
    if importlib.util.find_spec("openvino"):
        from hushframe.export.openvino_ir import compile_openvino

        ir = compile_openvino(int8, work / "student-int8.xml", "int8", latency_check=False)
        runs += [(int8, "openvino"), (ir, "openvino")]
    ref = work / "reference-outputs"
    shutil.rmtree(ref, ignore_errors=True)
    rows, passed = [], True
    for k, (artifact, backend) in enumerate(runs):
        # PyTorch fp32 once, its outputs saved; the other backends compare with the same PNGs
        kw = dict(reference=student, save_reference_output=ref) if k == 0 else dict(reference_output=ref)
        r = run_parity(artifact, pairs=pairs, backend=backend, max_drop=0.10, max_image_drop=0.30, **kw)
        s = r.summary
        passed &= r.passed
        rows.append(f"| `{artifact.name}` | {backend} | {s['reference_psnr']:.3f} | {s['artifact_psnr']:.3f} | "
                    f"{s['psnr_drop']:.3f} | {s['worst_image_drop']:.3f} | {'PASS' if r.passed else 'FAIL'} |")
        print(rows[-1], flush=True)
    body = "\n".join([
        *provenance("torch", "onnxruntime", "openvino", machine_note=describe_cpu()),
        "The demo student (`toolkit/assets/demo-student.safetensors`), `hushframe quantize` defaults calibrated on the "
        "demo camera's training frames, gated on its five held-out pairs against PyTorch fp32 outputs "
        "(mean drop <= 0.10 dB, worst image <= 0.30 dB).",
        "",
        "| artifact | backend | reference PSNR | artifact PSNR | mean drop (dB) | worst image drop (dB) | gate |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *rows])
    if not a.no_write:
        write_section("demo-int8-parity", "The demo student's INT8 on every installed CPU backend (issue 13)", body)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
