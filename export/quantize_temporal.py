"""INT8 for a temporal model: calibrated on whole sequences, its state arithmetic kept in float.

A temporal graph (core/temporal.py) is a per-frame network plus a running mean: the gate's and the
refiner's convolutions take int8 like any student's, but the mean, the count and the blend
(``m' = (g n m + x) / (g n + 1)``) must stay float: averaging 16 frames leaves ~1/4 of a code level
of noise, which 8-bit codes would round away (and ``n`` counts up to 32). So:

* the calibration data are the graph's real inputs: the user's clips run through the fp32 model with
  the runtime's own state handling (TemporalSession), recording (frame, aligned state) at each step,
  with a reset every ``RESET_EVERY`` frames so short and long histories are both represented;
* NNCF's post-training quantizer (ONNX backend: explicit QuantizeLinear/DequantizeLinear, the form
  ONNX Runtime, OpenVINO and TensorRT all take) quantizes the convolutions, with every elementwise
  op (the state's arithmetic, the residual adds) in its ignored scope;
* the result is checked where it matters: the same sequences through both graphs, each with its own
  state, and the output PSNR between them is recorded in the manifest (``parity`` gates it later on
  any clip).

The student recipe of export/quantize.py (7-bit weights, dither, image-conv handling) is tuned for
per-frame students; the temporal refiner reuses none of it yet.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ExportError

RESET_EVERY = 12
FLOAT_OPS = ["Add", "Sub", "Mul", "Div", "Min", "Max", "Clip", "Sqrt", "Reciprocal", "Concat", "Sigmoid"]


def is_temporal_onnx(path) -> bool:
    from hushframe.core.temporal import STATE_IN

    try:
        import onnx

        g = onnx.load(str(path), load_external_data=False).graph
    except Exception:  # noqa: BLE001 - not readable: the regular path reports it in one line
        return False
    return any(i.name == STATE_IN for i in g.input)


class _Recorder:
    """A backend stand-in that records the feeds a TemporalSession gives it."""

    def __init__(self, backend, feeds: list):
        self._be, self.feeds = backend, feeds
        self.info, self.artifact, self.name = backend.info, backend.artifact, backend.name

    def infer_state(self, x, state):
        self.feeds.append({self.info.input_name: x.copy(), "state_in": state.copy()})
        return self._be.infer_state(x, state)


def _frames(source, limit: int) -> list[np.ndarray]:
    from hushframe.runtime.sources import open_source

    out = []
    with open_source(source) as src:
        for fr in src:
            out.append(fr.image)
            if len(out) >= limit:
                break
    if len(out) < 2:
        raise ExportError(f"{source}: {len(out)} frame(s); a temporal model is calibrated on a clip of consecutive frames")
    return out


def _run(backend, frames, reset_every: int) -> list[np.ndarray]:
    from hushframe.runtime.temporal import TemporalSession

    s = TemporalSession(backend)
    outs = []
    for i, f in enumerate(frames):
        if i % reset_every == 0:
            s.reset()
        outs.append(s(f))
    return outs


def quantize_temporal(onnx_path, out_path, calibration, *, frames: int = 36, threads: int | None = None,
                      overwrite_ok: bool = True) -> tuple[Path, dict]:
    """Write the INT8 Q/DQ variant of a temporal model's fp32 ONNX (atomically, with a manifest)."""
    import nncf
    import onnx

    from hushframe.core.atomic import atomic_path, check_output_path
    from hushframe.core.manifest import file_sha256, write_manifest
    from hushframe.core.metrics import psnr
    from hushframe.runtime.options import RunOptions

    from .contract import read_metadata, set_metadata

    out_path = check_output_path(out_path)
    if calibration is None:
        raise ExportError("int8 needs --calibration VIDEO_OR_FOLDER: a clip of the camera's noisy frames")
    model = onnx.load(str(onnx_path))
    settings = read_metadata(model)
    if settings.get("precision", "fp32") != "fp32":
        raise ExportError(f"{onnx_path}: is already {settings.get('precision')}; quantize the fp32 export")
    clip = _frames(calibration, frames)
    feeds: list = []
    opts = RunOptions(backend="onnxruntime", threads=threads)
    with opts.open(onnx_path) as be:
        ref = _run(_Recorder(be, feeds), clip, RESET_EVERY)
    # MIXED: asymmetric activations. The refiner's inputs (the new frame's deviation from the mean) and its
    # correction are signed and lopsided; with symmetric ranges a trained student's int8 output sat 44.2 dB
    # from its fp32 one on its calibration clip (47.6 with MIXED), and moving footage at moderate noise lost
    # 1.3 dB against fp32 on the video benchmark's tuning split (0.5 with MIXED)
    q = nncf.quantize(model, nncf.Dataset(feeds), subset_size=len(feeds), preset=nncf.QuantizationPreset.MIXED,
                      ignored_scope=nncf.IgnoredScope(types=FLOAT_OPS, validate=False))
    new_settings = dict(settings, precision="int8", int8_target="nncf-temporal")
    set_metadata(q, new_settings)
    q.producer_name = "hushframe"
    with atomic_path(out_path) as tmp:
        onnx.save(q, str(tmp))
    with opts.open(out_path) as be:
        got = _run(be, clip, RESET_EVERY)
    out_psnr = [psnr(r, g) for r, g in zip(ref, got)]
    report = {"quantizer": f"nncf {nncf.__version__} (ONNX, post-training, preset mixed)", "float_ops": FLOAT_OPS,
              "calibration_frames": len(clip), "reset_every": RESET_EVERY,
              "output_psnr_vs_fp32": {"mean": round(float(np.mean(out_psnr)), 2), "min": round(float(np.min(out_psnr)), 2)}}
    write_manifest(out_path, kind="onnx", made_by="hushframe quantize --precision int8 (temporal)",
                   source={"onnx": str(onnx_path), "sha256": file_sha256(onnx_path),
                           "calibration": {"source": str(calibration), "frames": len(clip)}},
                   settings=new_settings, extra={"quantization": report}, tools=("onnx", "onnxruntime", "nncf"))
    return out_path, report
