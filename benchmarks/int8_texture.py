"""What INT8 rounding leaves in the output: the INT8-minus-float difference on real pairs, per phase.

    python benchmarks/int8_texture.py --reference runs/int8-latency/student-c.onnx \
        --model "Bayer 4x4=OLD-int8.onnx" --model "shifted Bayer 64x64=student-int8.onnx" \
        [--pairs ../shared/data/polyu-dev] [--image printer_14 --image wall_9]

For each INT8 model and image (the noisy input of a polyu-dev pair, through ONNX Runtime, cropped
to a multiple of 32): the RMS of INT8 output minus the fp32 model's output, in grey levels; the mean
of that difference per channel (a colour shift, what undithered rounding of flat regions made); and
its mean per phase of a 4x4 grid (y mod 4, x mod 4), whose spread is the fixed texture a periodic
dither pattern leaves (each phase keeps a mean error of its own where rounding does not average
out). Writes, under runs/int8-texture/ (git-ignored: the images are derived from PolyU and never
enter the repository), one PNG per image: the difference x100 around mid grey, left to right in the
order of --model, so the texture can be seen rather than read. Writes the 'int8-texture' section
of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROOT, provenance, write_section  # noqa: E402


def session(path: str):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def run(sess, x: np.ndarray) -> np.ndarray:
    return sess.run(None, {"input": x})[0][0]


def texture(diff: np.ndarray) -> dict:
    """diff: C x H x W in grey levels."""
    phase = np.array([[diff[:, i::4, j::4].mean() for j in range(4)] for i in range(4)])
    return {"rms": float(np.sqrt((diff ** 2).mean())), "channel_means": [float(v) for v in diff.mean(axis=(1, 2))],
            "phase_range": float(phase.max() - phase.min())}


def main(argv=None):
    from PIL import Image, ImageDraw

    from hushframe.core.pairs import find_pairs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reference", required=True, help="the fp32 ONNX the INT8 models were made from")
    ap.add_argument("--model", action="append", required=True, help="LABEL=INT8.onnx (repeatable)")
    ap.add_argument("--pairs", default=str(ROOT.parent / "shared" / "data" / "polyu-dev"))
    ap.add_argument("--image", action="append", help="part of a pair's name (repeatable; default printer_14, wall_9)")
    ap.add_argument("--out", default=str(ROOT / "runs" / "int8-texture"))
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args(argv)
    models = [m.split("=", 1) for m in a.model]
    if any(len(m) != 2 for m in models):
        ap.error("--model takes LABEL=PATH")
    names = a.image or ["printer_14", "wall_9"]
    pairs = [p for p in find_pairs(Path(a.pairs)) if any(n in p.name for n in names)]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    ref_sess, sessions = session(a.reference), [(label, session(path)) for label, path in models]
    rows = []
    for pair in pairs:
        noisy, _ = pair.load()
        x = noisy.astype(np.float32) / (255.0 if noisy.dtype == np.uint8 else 1.0)
        h, w = x.shape[0] // 32 * 32, x.shape[1] // 32 * 32
        x = np.ascontiguousarray(np.transpose(x[:h, :w], (2, 0, 1))[None])
        ref = run(ref_sess, x)
        tiles = []
        for label, sess in sessions:
            d = (run(sess, x) - ref) * 255.0
            t = texture(d)
            rows.append(f"| {pair.name} | {label} | {t['rms']:.3f} | {' / '.join(f'{v:+.3f}' for v in t['channel_means'])} "
                        f"| {t['phase_range']:.3f} |")
            print(rows[-1], flush=True)
            tiles.append(np.clip(128 + 100 * d.mean(0)[:256, :256], 0, 255).astype(np.uint8))
        strip = np.concatenate([np.pad(t, ((0, 0), (0, 8)), constant_values=255) for t in tiles], axis=1)
        img = Image.fromarray(strip).resize((strip.shape[1] * 2, strip.shape[0] * 2), Image.NEAREST)
        framed = Image.new("L", (img.width, img.height + 24), 255)
        framed.paste(img, (0, 24))
        draw = ImageDraw.Draw(framed)
        for k, (label, _) in enumerate(models):
            draw.text((k * (tiles[0].shape[1] + 8) * 2 + 4, 6), label, fill=0)
        framed.save(out / f"{pair.name}.png")
    body = "\n".join([
        *provenance("onnxruntime", "numpy"),
        "ONNX Runtime on the noisy input of each pair (cropped to a multiple of 32); difference = INT8 output minus the "
        "fp32 model's, in 8-bit grey levels. Phase range: max minus min over the 16 phases (y mod 4, x mod 4) of the "
        f"difference's mean, the height of a fixed 4x4 texture. Pictures (x100 around mid grey): `{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}/` "
        "(git-ignored; derived from PolyU).", "",
        "| image | INT8 model | RMS difference | mean per channel (R / G / B) | 4x4 phase range |",
        "| --- | --- | --- | --- | --- |", *rows])
    print(body)
    if not a.no_write:
        write_section("int8-texture", "What INT8 rounding leaves in the output (issue 13)", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
