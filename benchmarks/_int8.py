"""INT8 helpers shared by int8_kinds.py and int8_rounding.py (scripts import this, never each other)."""

from __future__ import annotations

from pathlib import Path


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
