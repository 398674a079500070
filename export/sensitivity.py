"""Per-layer INT8 sensitivity: quantize one tensor at a time, measure the PSNR drop on pairs.

    python -m hushframe.export.sensitivity student.onnx --pairs polyu-dev --calibration noisy/ [--every 6]

For every Conv: (a) its input activation alone in int8 (symmetric per-tensor, max range),
(b) its weights alone in int8 (symmetric per-channel), with everything else float; plus the
share of the network's multiply-accumulates that conv holds (the speed stake of keeping it float).
"""

from __future__ import annotations

import numpy as np

from .contract import INPUT_NAME, OUTPUT_NAME


def psnr_on_pairs(model, pairs_data, threads: int | None = None) -> float:
    from hushframe.core.images import to_uint8
    from hushframe.core.metrics import psnr

    from .onnx_export import ort_session

    sess = ort_session(model, threads)
    vals = []
    for noisy, clean in pairs_data:
        x = pad_image(noisy)
        y = sess.run([OUTPUT_NAME], {INPUT_NAME: x})[0][0, :, : noisy.shape[0], : noisy.shape[1]]
        vals.append(psnr(clean, to_uint8(y.transpose(1, 2, 0))))
    return float(np.mean(vals))


def pad_image(noisy_u8: np.ndarray, multiple: int = 32) -> np.ndarray:
    """uint8 HxWx3 -> 1x3xHpxWp float, reflect-padded bottom/right (the evaluation protocol)."""
    from hushframe.core.contract import pad_chw, padded_size

    x = (noisy_u8.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(pad_chw(x, *padded_size(x.shape[2], x.shape[3], multiple)))


def sensitivity_table(model, crops, pairs_data, method: str = "max", threads: int | None = None) -> list[dict]:
    from . import qdq
    from .graph import conv_macs, conv_nodes
    from .ranges import activation_stats, range_for

    fp = psnr_on_pairs(model, pairs_data, threads)
    convs = conv_nodes(model)
    acts = sorted({c.input[0] for c in convs})
    st = activation_stats(model, crops, acts, threads=threads)
    macs = conv_macs(model, 512, 512)
    total = sum(macs.values())
    rows = []
    for c in convs:
        a = c.input[0]
        thr = range_for(st[a], method)
        da = psnr_on_pairs(qdq.insert_qdq(model, {a: thr}, set(), act_convs={c.name}), pairs_data, threads) - fp
        dw = psnr_on_pairs(qdq.insert_qdq(model, {}, {c.name}), pairs_data, threads) - fp
        rows.append({"conv": c.name, "activation_drop_db": round(da, 3), "weight_drop_db": round(dw, 3),
                     "act_absmax": round(float(st[a]["absmax"].max()), 3), "mac_share": round(macs[c.name] / total, 4)})
    return rows


def main(argv=None):
    import argparse

    import onnx

    from hushframe.core.pairs import find_pairs

    from .calibration import calibration_crops

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("onnx")
    ap.add_argument("--pairs", required=True)
    ap.add_argument("--calibration", required=True)
    ap.add_argument("--every", type=int, default=6)
    ap.add_argument("--crop-size", type=int, default=256)
    a = ap.parse_args(argv)
    data = [p.load() for p in find_pairs(a.pairs)[:: a.every]]
    crops = calibration_crops(a.calibration, 32, a.crop_size)
    rows = sensitivity_table(onnx.load(a.onnx), crops, data)
    print("| conv | act int8 alone (dB) | weights int8 alone (dB) | share of MACs |")
    print("| --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['conv']} | {r['activation_drop_db']:+.3f} | {r['weight_drop_db']:+.3f} | {100 * r['mac_share']:.1f}% |")


if __name__ == "__main__":
    main()
