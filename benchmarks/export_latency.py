"""CPU latency and polyu-dev PSNR of the published student C across export variants (one run).

    python benchmarks/export_latency.py [--shared ../shared] [--runs 3] [--threads 2]

Variants: torch eager fp32, ONNX Runtime fp32, OpenVINO fp32 / fp16 / int8 (our Q/DQ recipe),
plus OpenVINO int8 with every conv in int8 (same recipe, nothing kept float) to price what
stays float. PSNR: all 60 polyu-dev pairs, evaluation protocol of reference/anchors.md.
Writes its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import provenance, write_section  # noqa: E402

SIZES = [(512, 512), (720, 1280), (1080, 1920)]


def median_ms(fn, x, runs):
    fn(x)  # warm-up
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        ts.append((time.perf_counter() - t) * 1000)
    return float(np.median(ts))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--every", type=int, default=1, help="use every n-th polyu-dev pair (1 = all 60)")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)

    import onnx
    import torch

    from hushframe.export.onnx_export import export_onnx, ort_session
    from hushframe.export.openvino_ir import compile_openvino, compiled_model
    from hushframe.export.quantize import DEFAULT_METHOD, QuantConfig, quantize, quantize_int8_model
    from hushframe.export.calibration import DEFAULT_CROPS, calibration_crops
    from hushframe.export.contract import set_metadata, read_metadata
    from hushframe.export.sensitivity import pad_image
    from hushframe.core.images import to_uint8
    from hushframe.core.pairs import find_pairs
    from hushframe.core.metrics import psnr
    from hushframe.toolkit.weights import convert_foreign, detect_layout, read_foreign_checkpoint, save_model

    torch.set_num_threads(a.threads)
    import os

    load_start = os.getloadavg()[0]
    shared = Path(a.shared)
    pth = shared / "weights" / "aprrd-student-c-1.00m-sidd.pth"
    calib = shared / "data" / "polyu-train-noisy"
    pairs = find_pairs(shared / "data" / "polyu-dev")[:: a.every]
    data = [p.load() for p in pairs]
    work = Path(tempfile.mkdtemp(prefix="hf-export-bench-"))
    state = read_foreign_checkpoint(pth)
    model = convert_foreign(state, detect_layout(state), pth).eval()
    w = save_model(model, work / "student-c.safetensors")
    fp32 = export_onnx(w, work / "student-c.onnx")
    t = time.time()
    int8 = quantize(fp32, work / "student-c-int8.onnx", "int8", calib, threads=a.threads)
    t_quant = time.time() - t
    from hushframe.core.manifest import read_manifest

    qrep = read_manifest(int8)["quantization"]
    # same recipe, nothing kept float except the image convs: prices the float part
    crops = calibration_crops(calib, DEFAULT_CROPS, 256)
    allq, _ = quantize_int8_model(onnx.load(str(fp32)), crops, QuantConfig(keep_float=()), threads=a.threads)
    set_metadata(allq, dict(read_metadata(onnx.load(str(fp32))), precision="int8"))
    onnx.save(allq, str(work / "student-c-int8-all.onnx"))
    ov = {}
    for name, src, prec in (("fp32", fp32, "fp32"), ("fp16", fp32, "fp16"), ("int8", int8, "int8"),
                            ("int8-all", work / "student-c-int8-all.onnx", "int8")):
        xml = compile_openvino(src, work / f"ov-{name}.xml", prec, latency_check=False)
        ov[name] = compiled_model(xml, a.threads)

    ort32 = ort_session(fp32, a.threads)
    ort8 = ort_session(int8, a.threads)
    runners = {
        "torch eager fp32": lambda x: model(torch.from_numpy(x)).numpy(),
        "ONNX Runtime fp32": lambda x: ort32.run(["output"], {"input": x})[0],
        "OpenVINO fp32": lambda x: ov["fp32"]({"input": x})[0],
        "OpenVINO fp16": lambda x: ov["fp16"]({"input": x})[0],
        "OpenVINO int8 (our recipe)": lambda x: ov["int8"]({"input": x})[0],
        "OpenVINO int8, every conv int8": lambda x: ov["int8-all"]({"input": x})[0],
        "ONNX Runtime int8 Q/DQ (reference numerics, float kernels)": lambda x: ort8.run(["output"], {"input": x})[0],
    }
    latency_rows = [k for k in runners if "Q/DQ" not in k]
    results = {}
    with torch.inference_mode():
        for name, fn in runners.items():
            vals = []
            for noisy, clean in data:
                x = pad_image(noisy)
                y = fn(x)[0, :, : noisy.shape[0], : noisy.shape[1]]
                vals.append(psnr(clean, to_uint8(y.transpose(1, 2, 0))))
            lat = {}
            if name in latency_rows:
                for h, wd in SIZES:
                    hp, wp = -(-h // 32) * 32, -(-wd // 32) * 32
                    x = np.random.default_rng(0).random((1, 3, hp, wp), dtype=np.float32)
                    lat[(h, wd)] = median_ms(fn, x, a.runs)
            results[name] = (float(np.mean(vals)), lat)
            print(f"{name}: {results[name][0]:.3f} dB, " + ", ".join(f"{h}x{wd} {v:.0f} ms" for (h, wd), v in lat.items()), flush=True)
    noisy_db = float(np.mean([psnr(c, n) for n, c in data]))
    load = f"1-minute load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (above {a.threads}: other processes shared the cores and latencies are inflated)"
    ref = results["ONNX Runtime fp32"][0]
    lines = [
        *provenance("torch", "onnxruntime", "openvino", "onnx", "onnxslim", machine_note=f"threads: {a.threads}"),
        "",
        f"Published student C (`aprrd-student-c-1.00m-sidd.pth`, imported), polyu-dev: {len(data)} pairs, "
        f"protocol of reference/anchors.md (reflect-pad to 32, crop, clamp, round). Noisy input: {noisy_db:.3f} dB. "
        f"Latency: batch 1, median of {a.runs} after a warm-up; 1280x720 and 1920x1080 run padded to 1280x736 and 1920x1088; {load}.",
        "",
        "| variant | PSNR (dB) | vs ORT fp32 | " + " | ".join(f"{wd}x{h}" for h, wd in SIZES) + " |",
        "| --- | --- | --- | " + " | ".join("---" for _ in SIZES) + " |",
    ]
    for name, (db, lat) in results.items():
        cells = [f"{lat[s]:.0f} ms" if s in lat else "n/a" for s in SIZES]
        lines.append(f"| {name} | {db:.3f} | {db - ref:+.3f} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"INT8 recipe (`hushframe quantize`, {t_quant:.0f} s here): {DEFAULT_CROPS} crops 256x256 of polyu-train-noisy (seed 0); "
        f"image convs split off and kept float; per-channel activation equalization; activation ranges {DEFAULT_METHOD}; "
        f"symmetric per-channel int8 weights; every Q/DQ zero point 0. Kept float: "
        + ", ".join(f"`{c}`" for c in qrep["float_convs"]) + f" = {100 * qrep['float_mac_share']:.1f}% of the MACs.",
        "OpenVINO on this CPU (avx512_bf16): fp32 and int8 IRs are compiled with INFERENCE_PRECISION_HINT=f32; the fp16 IR "
        "(fp16-compressed weights) runs at the plugin default, bf16 here, as this CPU has no fp16 arithmetic.",
        "'every conv int8' is the same recipe with no conv kept float: its latency minus ours is the speed cost of the float part.",
    ]
    body = "\n".join(lines)
    print(body)
    if not a.no_write:
        write_section("export-latency", "Export variants of student C: CPU latency and polyu-dev PSNR (benchmarks/export_latency.py)", body)


if __name__ == "__main__":
    main()
