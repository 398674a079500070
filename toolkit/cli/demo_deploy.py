"""Deployment half of `hushframe demo`: export -> OpenVINO IR -> stream a clip -> parity gate."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_clip(path: Path, test_pairs, frames: int = 24, size=(192, 256), seed: int = 7) -> Path:
    """A short noisy clip of the demo camera: a slow pan with fresh sensor noise per frame (FFV1, lossless)."""
    import av

    from ..data.datasets import public_domain_images
    from hushframe.core.images import to_uint8
    from ..data.simulator import demo_camera_params, simulate_pair

    rng = np.random.default_rng(seed)
    cam = demo_camera_params()
    src = dict(public_domain_images())["coffee"].astype(np.float32) / 255.0
    h, w = size
    with av.open(str(path), "w") as out:
        s = out.add_stream("ffv1", rate=12)
        s.width, s.height, s.pix_fmt = w, h, "yuv444p"
        for i in range(frames):
            x0 = 40 + 4 * i
            noisy, _ = simulate_pair(src[60:60 + h, x0:x0 + w], rng, params=cam)
            for pkt in s.encode(av.VideoFrame.from_ndarray(to_uint8(noisy), format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    return path


def write_test_pairs(folder: Path, test) -> Path:
    """The demo camera's held-out (noisy, clean) pairs as PolyU-style ``testN_real`` / ``testN_mean`` PNGs."""
    from hushframe.core.images import write_image

    folder.mkdir(parents=True, exist_ok=True)
    for i, (noisy, clean) in enumerate(test):
        write_image(folder / f"test{i}_real.png", noisy)
        write_image(folder / f"test{i}_mean.png", clean)
    return folder


def deploy_steps(console, output: Path, student: Path, test) -> dict:
    from rich.table import Table

    from ...export.onnx_export import export_onnx
    from ...export.openvino_ir import compile_openvino
    from ...runtime.parity import run_parity
    from ...runtime.stream import stream_video

    console.rule("[bold]5. export to ONNX, compile to OpenVINO IR")
    onnx = export_onnx(student, output / "student.onnx")
    console.print(f"{onnx} (checked against PyTorch within 1e-4; manifest beside it)")
    ir_dir = output / "openvino"
    ir_dir.mkdir(exist_ok=True)
    xml = compile_openvino(onnx, ir_dir / "student.xml", "fp32", latency_shape=(1, 3, 192, 256))
    console.print(f"{xml} (+ .bin)")

    console.rule("[bold]6. stream a noisy clip through the compiled denoiser")
    clip = make_clip(output / "noisy-clip.mkv", test)
    stats = stream_video(clip, xml, output / "denoised.mp4", backend="openvino", overwrite=True)  # the demo's own folder
    console.print(f"{clip} -> {output / 'denoised.mp4'}: {stats.line()}")

    console.rule("[bold]7. parity gate: OpenVINO fp32 against the PyTorch reference")
    pairs_dir = write_test_pairs(output / "test-pairs", test)
    res = run_parity(xml, pairs=pairs_dir, reference=student, backend="openvino", max_drop=0.10,
                     json_path=output / "parity.json", markdown_path=output / "parity.md")
    s = res.summary
    table = Table(title="parity (max drop 0.10 dB)")
    for c in ("", "PSNR (dB)", "SSIM"):
        table.add_column(c)
    for key, label in (("noisy", "noisy input"), ("reference", "PyTorch fp32 reference"), ("artifact", "OpenVINO fp32")):
        table.add_row(label, f"{s[key + '_psnr']:.3f}", f"{s[key + '_ssim']:.4f}")
    table.add_row("drop", f"{s['psnr_drop']:.3f}", f"{s['ssim_drop']:.4f}")
    console.print(table)
    console.print(f"PSNR between the two outputs: {s['output_psnr']:.1f} dB")
    console.print(("[green]PASS[/]" if res.passed else "[red]FAIL[/]") + f"  (details: {output / 'parity.md'})")
    return {"onnx": onnx, "xml": xml, "stats": stats, "parity": res}
