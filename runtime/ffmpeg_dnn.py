"""The FFmpeg filter chain that runs a hushframe ONNX / OpenVINO IR in ``dnn_processing``.

FFmpeg feeds the frame at its own size (float32 NCHW RGB, batch 1, scaled by 1/255) and our
networks take heights and widths that are multiples of their size multiple (32 for students),
so the chain pads the way ``hushframe stream`` does (reflect at the bottom/right:
``pad`` + ``fillborders=mode=reflect``), runs the model and crops back:

    >>> dnn_processing_filter("student.onnx", 1920, 1080)
    'format=rgb24,pad=1920:1088,fillborders=bottom=8:mode=reflect,dnn_processing=dnn_backend=onnx:model=student.onnx:input=input:output=output,crop=1920:1080:0:0'

``backend``: ``onnx`` (FFmpeg 9.0+ built with ONNX Runtime) or ``openvino`` (built with
``--enable-libopenvino``; give it the .xml, or the .onnx which OpenVINO also reads).
"""

from __future__ import annotations


def dnn_processing_filter(model: str, width: int, height: int, backend: str = "onnx", multiple: int = 32,
                          input_name: str = "input", output_name: str = "output") -> str:
    pw, ph = (-width) % multiple, (-height) % multiple
    parts = ["format=rgb24"]          # pad and reflect in RGB, as the runtime does
    if pw or ph:
        sides = ":".join(f"{k}={v}" for k, v in (("right", pw), ("bottom", ph)) if v)
        parts += [f"pad={width + pw}:{height + ph}", f"fillborders={sides}:mode=reflect"]
    parts.append(f"dnn_processing=dnn_backend={backend}:model={model}:input={input_name}:output={output_name}")
    if pw or ph:
        parts.append(f"crop={width}:{height}:0:0")
    return ",".join(parts)
