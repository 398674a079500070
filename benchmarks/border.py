"""Teacher border error of two edge treatments: ring / interior error per blind spot k_b.

    python benchmarks/border.py [--steps 1500] [--device auto]

A width-16, 3-pooling AT-BSN teacher is trained (k_a = 9, L1 self-supervision, crops of
64, batch 8) on smooth clean images through the camera simulator (spatially correlated
noise), once per edge variant, same seed and data:

* zeros: the paper's zero padding in every half-plane layer, and the input reflect-padded
  at the bottom/right to the size multiple;
* replicate: replicate padding in the half-plane layers, each rotated frame padded at its own
  bottom/right (``edge="replicate"``, the default).

It reports the border ratio (outer 4-px ring / interior with a 16-px margin, as in
``hushframe eval``) for k_b in {0, 1, 3, 5} and the training k_a = 9, on a held-out noisy
image whose size is a multiple of the network's 8 (192 x 192) and one that is not
(200 x 196), and the per-row error profile of the top rows. Writes the "border" section
of BENCHMARKS.md and benchmarks/results/border.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

KS = (0, 1, 3, 5, 9)
SIZES = ((192, 192), (200, 196))


def smooth_image(rng, h, w, sigma=12.0):
    from scipy.ndimage import gaussian_filter

    f = np.stack([gaussian_filter(rng.standard_normal((h, w)), sigma) for _ in range(3)], -1)
    return np.clip((f - f.mean()) / (f.std() + 1e-8) * 0.15 + 0.5, 0.05, 0.95).astype(np.float32)


def noisy_pair(seed, h, w):
    from hushframe.toolkit.data.simulator import CameraParams, simulate_pair

    rng = np.random.default_rng(seed)
    cam = CameraParams(shot=4e-3, read=0.016, wb_red=2.0, wb_blue=1.6)
    return simulate_pair(smooth_image(rng, h, w), rng, params=cam)


def train(edge: str, steps: int, device, seed=0, width=16, levels=3, crop=64, batch=8, log=print):
    import torch

    from hushframe.toolkit.methods.atbsn import teacher_loss
    from hushframe.toolkit.models import create_model

    torch.manual_seed(seed)
    model = create_model("atbsn", width=width, levels=levels, edge=edge).to(device)
    imgs = [torch.from_numpy(noisy_pair(100 + i, 256, 256)[0].transpose(2, 0, 1).copy()) for i in range(4)]
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(seed)
    for it in range(steps):
        crops = []
        for _ in range(batch):
            im = imgs[int(rng.integers(len(imgs)))]
            y, x = (int(v) for v in rng.integers(0, 256 - crop + 1, 2))
            crops.append(torch.rot90(im[:, y:y + crop, x:x + crop], int(rng.integers(4)), (1, 2)))
        loss = teacher_loss(model, torch.stack(crops).to(device), 9)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it % 250 == 0:
            log(f"  {edge} step {it} loss {loss.item():.4f}")
    return model.eval()


def measure(model, edge: str, device) -> dict:
    import torch

    from hushframe.toolkit.eval.faithful import border_ratio
    from hushframe.toolkit.models.padding import pad_to_multiple

    rows = {}
    for h, w in SIZES:
        noisy, gt = noisy_pair(7, h, w)
        x = torch.from_numpy(noisy.transpose(2, 0, 1).copy())[None].to(device)
        if edge == "zeros":  # the old forward: reflect-pad the input at the bottom/right
            x, _ = pad_to_multiple(x, model.size_multiple)
        for k in KS:
            with torch.no_grad():
                out = model(x, blind_spot=k)[0, :, :h, :w].cpu().numpy().transpose(1, 2, 0).clip(0, 1)
            e = np.abs(out - gt).mean(2)
            rows[f"{h}x{w} k{k}"] = {"ratio": border_ratio(out, gt), "interior": float(e[16:-16, 16:-16].mean()),
                                     "top_rows": [float(v) for v in e.mean(1)[:8]]}
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    a = ap.parse_args(argv)
    import torch

    from _report import provenance, write_section

    dev = torch.device("cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device))
    res = {}
    t0 = time.perf_counter()
    for edge in ("zeros", "replicate"):
        res[edge] = measure(train(edge, a.steps, dev), edge, dev)
    label = {"zeros": "before (zeros + reflect to multiple)", "replicate": "after (replicate, per-rotation pad)"}
    lines = [*provenance("torch", "numpy", machine_note=f"device {dev}; {time.perf_counter() - t0:.0f} s"), "",
             f"Teacher width 16, 3 poolings, {a.steps} steps (k_a = 9, crop 64, batch 8) on smooth images through the "
             "camera simulator (correlated noise); border ratio = outer 4-px ring MAE / interior MAE (16-px margin) "
             "on a held-out noisy image. Rows: edge handling; columns: inference blind spot k_b.", "",
             "| image | teacher | " + " | ".join(f"k_b={k}" for k in KS) + " |",
             "| --- | --- | " + " | ".join("---" for _ in KS) + " |"]
    for h, w in SIZES:
        for edge in ("zeros", "replicate"):
            lines.append(f"| {h}x{w} | {label[edge]} | " + " | ".join(f"{res[edge][f'{h}x{w} k{k}']['ratio']:.2f}" for k in KS) + " |")
    lines += ["", "Top-row error profile (MAE per row, rows 0-7, 192x192, k_b = 3):", ""]
    for edge in ("zeros", "replicate"):
        r = res[edge]["192x192 k3"]
        lines.append(f"* {label[edge]}: " + ", ".join(f"{v:.3f}" for v in r["top_rows"]) + f" (interior {r['interior']:.3f})")
    body = "\n".join(lines)
    print(body)
    if not a.no_write:
        out = Path(__file__).resolve().parent / "results" / "border.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"steps": a.steps, "device": str(dev), "results": res}, indent=1))
        write_section("border", "Teacher border error: edge handling before/after (issue 10)", body)


if __name__ == "__main__":
    main()
