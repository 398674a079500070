"""ONNX -> OpenVINO IR (.xml/.bin) in fp32, fp16 or int8, dynamic or fixed shape, with a CPU latency check."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from .calibration import DEFAULT_CROPS
from .contract import INPUT_NAME, load_onnx_checked, onnx_settings
from .errors import ExportError


def parse_shape(shape: str | tuple | None) -> tuple[int, int, int, int] | None:
    """'1x3x720x1280', '720x1280' or (N, C, H, W) -> (N, 3, H, W); None = dynamic."""
    if shape is None or shape == "" or shape == "dynamic":
        return None
    if isinstance(shape, str):
        try:
            parts = [int(p) for p in shape.lower().replace(",", "x").split("x")]
        except ValueError:
            raise ExportError(f"shape {shape!r}: expected HxW or NxCxHxW, e.g. 1080x1920") from None
    else:
        parts = [int(p) for p in shape]
    if len(parts) == 2:
        parts = [1, 3] + parts
    if len(parts) != 4 or parts[1] != 3 or min(parts) <= 0:
        raise ExportError(f"shape {shape!r}: expected HxW or Nx3xHxW with positive sizes")
    return tuple(parts)


def _check_multiple(shape, multiple: int, where="shape"):
    if shape and (shape[2] % multiple or shape[3] % multiple):
        raise ExportError(f"{where} {shape[3]}x{shape[2]} (WIDTHxHEIGHT): both must be multiples of {multiple} "
                          f"(the caller pads, e.g. 1080 -> {-(-1080 // multiple) * multiple})")


def compile_openvino(onnx_path: str | Path, out_xml: str | Path, precision: str = "fp32", calibration=None,
                     shape=None, *, num_crops: int = DEFAULT_CROPS, crop_size: int = 256, seed: int = 0,
                     latency_check: bool = True, latency_shape=None, threads: int | None = None) -> Path:
    """Compile an exported ONNX model to OpenVINO IR.

    precision: fp32 | fp16 (weights stored in fp16) | int8. For int8 the ONNX must already be a
    hushframe INT8 Q/DQ model (from ``quantize``), or ``calibration`` (folder/video) is given and
    the model is quantized here with the same recipe first.
    shape: None (dynamic N/H/W) or 'HxW' / 'NxCxHxW' for a fixed-shape IR.
    Returns the .xml path; the manifest is ``model.xml.manifest.json``.
    """
    import openvino as ov

    from hushframe.core.atomic import check_output_path
    from hushframe.core.manifest import file_sha256, write_manifest

    out_xml = check_output_path(out_xml)
    if out_xml.suffix != ".xml":
        raise ExportError(f"{out_xml}: OpenVINO IR output must end in .xml (the .bin is written beside it)")
    if precision not in ("fp32", "fp16", "int8"):
        raise ExportError(f"precision {precision!r}: expected fp32, fp16 or int8")
    model = load_onnx_checked(onnx_path)
    settings = onnx_settings(model, onnx_path)
    src_precision = settings.get("precision", "fp32")
    fixed = parse_shape(shape)
    _check_multiple(fixed, int(settings["size_multiple"]))
    src_path = Path(onnx_path)
    with tempfile.TemporaryDirectory(prefix=f".{out_xml.name}.", dir=out_xml.parent) as td:
        td = Path(td)
        if precision == "int8" and src_precision != "int8":
            if calibration is None:
                raise ExportError(f"{onnx_path}: is {src_precision}; int8 needs --calibration FOLDER_OR_VIDEO "
                                  f"(or an ONNX made by `hushframe quantize --precision int8`)")
            from .quantize import quantize

            src_path = quantize(onnx_path, td / "int8.onnx", "int8", calibration, num_crops=num_crops,
                                crop_size=crop_size, seed=seed, write_manifest_file=False)
        elif precision != "int8" and src_precision == "int8":
            raise ExportError(f"{onnx_path}: is an INT8 Q/DQ model; compile the fp32 ONNX for {precision}")
        try:
            ov_model = ov.convert_model(str(src_path))
        except Exception as e:  # the frontend's report runs to pages: one line of it names the op
            raise ExportError(f"{onnx_path}: OpenVINO cannot convert it ({_first_line(e)})") from None
        shapes = {INPUT_NAME: ov.PartialShape(list(fixed) if fixed else [-1, 3, -1, -1])}
        if len(ov_model.inputs) > 1:          # a temporal model: the state follows the frame (core/temporal.py)
            from hushframe.core.temporal import STATE_IN

            c = int(settings.get("state_channels", 4))
            shapes[STATE_IN] = ov.PartialShape([fixed[0], c, fixed[2], fixed[3]] if fixed else [-1, c, -1, -1])
        ov_model.reshape(shapes)
        for k, v in settings.items():
            ov_model.set_rt_info(str(v), ["hushframe", k])
        stage = td / "ir"
        stage.mkdir()
        ov.save_model(ov_model, str(stage / out_xml.name), compress_to_fp16=(precision == "fp16"))
        staged_xml, staged_bin = stage / out_xml.name, stage / (out_xml.stem + ".bin")
        lat = None
        if latency_check:  # on the staged IR: one that does not run never replaces anything
            try:
                lat = cpu_latency_ms(staged_xml, latency_shape or fixed or (1, 3, 512, 512), threads=threads,
                                     precision=precision, float_precision=settings.get("cpu_float_precision"))
            except Exception as e:
                raise ExportError(f"{onnx_path}: OpenVINO converted it but cannot run it ({_first_line(e)}); "
                                  f"nothing written") from None
        # Both files land with a rename each; the .bin first so the .xml never names a missing .bin.
        os.replace(staged_bin, out_xml.with_suffix(".bin"))
        os.replace(staged_xml, out_xml)
    new_settings = dict(settings, precision=precision, shape=list(fixed) if fixed else "dynamic",
                        cpu_inference_precision_hint=cpu_precision_hint(precision, settings.get("cpu_float_precision"))
                        or "plugin default")
    extra = {"cpu_latency_ms": lat} if lat else None
    write_manifest(out_xml, kind="openvino-ir", made_by="hushframe compile openvino",
                   source={"onnx": str(onnx_path), "sha256": file_sha256(onnx_path), "bin": out_xml.with_suffix(".bin").name},
                   settings=new_settings, extra=extra, tools=("openvino", "onnx"))
    return out_xml


def cpu_precision_hint(precision: str, float_precision: str | None = None) -> str | None:
    """The contract's OpenVINO CPU precision policy (core/contract.py) on this CPU, shared with the runtime backend."""
    from hushframe.core.contract import openvino_cpu_precision_hint
    from hushframe.runtime.cpu_isa import has_bf16

    return openvino_cpu_precision_hint(precision, float_precision, has_bf16())


def compiled_model(xml_or_onnx: str | Path, threads: int | None = None, precision_hint: str | None = "auto"):
    """Compile for CPU; precision_hint 'auto' reads the artifact's manifest (see ``cpu_precision_hint``)."""
    import openvino as ov

    if precision_hint == "auto":
        from hushframe.core.manifest import read_manifest

        st = (read_manifest(xml_or_onnx) or {}).get("settings", {})
        precision_hint = cpu_precision_hint(st.get("precision", "fp32"), st.get("cpu_float_precision"))
    core = ov.Core()
    cfg = {"PERFORMANCE_HINT": "LATENCY"}
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = int(threads)
    if precision_hint:
        cfg["INFERENCE_PRECISION_HINT"] = precision_hint
    return core.compile_model(core.read_model(str(xml_or_onnx)), "CPU", cfg)


def cpu_latency_ms(xml: str | Path, shape=(1, 3, 512, 512), runs: int = 3, threads: int | None = None,
                   precision: str = "fp32", float_precision: str | None = None) -> dict:
    """Median wall time of ``runs`` CPU inferences after one warm-up (a check, not a benchmark)."""
    import numpy as np

    cm = compiled_model(xml, threads, cpu_precision_hint(precision, float_precision))
    x = np.random.default_rng(0).random(shape, dtype=np.float32)
    feeds = {0: x}
    for i, port in enumerate(cm.inputs[1:], 1):     # a temporal model's state: as large as the frame, empty
        feeds[i] = np.zeros((shape[0], port.get_partial_shape()[1].get_length()) + tuple(shape[2:]), np.float32)
    req = cm.create_infer_request()
    req.infer(feeds)
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        req.infer(feeds)
        ts.append((time.perf_counter() - t) * 1000)
    return {"shape": list(shape), "median_ms": round(float(np.median(ts)), 1), "runs": runs}


GENERIC = ("Check '", "Exception from src/", "FrontEnd API failed", "Model wasn't fully converted",
           "Failed operations detailed log", "-- ")


def _first_line(e: Exception) -> str:
    """The first informative line of an OpenVINO exception (its reports open with generic lines)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(GENERIC)]
    return ((useful or lines or [type(e).__name__])[0])[:200]
