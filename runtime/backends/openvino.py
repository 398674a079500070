"""OpenVINO backend: IR (.xml + .bin) or ONNX read directly; CPU by default, GPU/NPU by name.

A model saved with dynamic height and width (what ``hushframe compile openvino`` writes without
``--shape``) is compiled again, as a static-shape copy, for each input shape it is given a second
time, and the last ``STATIC_SHAPES`` copies are kept. Why: OpenVINO's CPU plugin fuses less in a
dynamic graph (the dithered INT8 student C ran 3-11% slower per 1080p frame than the same IR
reshaped to 1080p, over three runs; BENCHMARKS ``int8-latency``). A shape seen once runs on the dynamic model,
because the copy's compile and first inference cost more than the dynamic model's first inference
(+3.5 s against +1.2 s at 1080p in that benchmark): a folder of photos of many sizes pays nothing,
and a video stream, one shape, runs the static copy from its second frame. CPU only;
``HUSHFRAME_OV_STATIC_SHAPES=0`` turns it off.
"""

from __future__ import annotations

import os
from collections import OrderedDict

import numpy as np

from hushframe.core.contract import DEFAULT_MULTIPLE

from ..errors import ArtifactError, BackendUnavailable
from .base import Backend, BackendInfo, check_image_io, default_threads, register_backend, state_io


STATIC_SHAPES = 2  # compiled static-shape copies kept (a stream's frames, and one other size)
SEEN_SHAPES = 16  # shapes remembered as seen once (a copy is compiled on the second sight)


OV_PRECISION = {"fp32": "f32", "fp16": "f16", "bf16": "bf16"}   # RunOptions.precision -> INFERENCE_PRECISION_HINT


class OpenVINOBackend(Backend):
    name = "openvino"
    formats = ("openvino", "onnx")
    auto_for = ('openvino',)
    aliases = ('ov',)
    precisions = tuple(OV_PRECISION)

    @classmethod
    def available(cls, device: str = "auto"):
        try:
            import openvino  # noqa: F401
        except ImportError as e:
            return False, f"openvino is not installed ({e}); pip install 'hushframe[runtime-openvino]'"
        if device.startswith("cuda"):
            return False, "OpenVINO does not run on CUDA devices"
        return True, ""

    def _ov_device(self) -> str:
        d = self.device
        if d in ("auto", "cpu", ""):
            return "CPU"
        return d.upper()

    def _load(self) -> BackendInfo:
        import openvino as ov

        core = ov.Core()
        dev = self._ov_device()
        if dev not in core.available_devices and dev.split(".")[0] not in core.available_devices:
            raise BackendUnavailable(f"OpenVINO device {dev} not present (have: {', '.join(core.available_devices)})")
        try:
            if self.artifact.format == "onnx":
                # Not core.read_model: for INT8 Q/DQ ONNX it leaves each QuantizeLinear as
                # FakeQuantize -> Convert -> Subtract -> Multiply, and the CPU plugin then computes
                # wrong results (13 dB off on an AVX2 EPYC, export/README.md). convert_model folds
                # them into one FakeQuantize, exactly what `hushframe compile openvino` saves.
                model = ov.convert_model(str(self.artifact.path))
            else:
                model = core.read_model(str(self.artifact.path))
        except Exception as e:
            raise ArtifactError(f"{self.artifact.path}: OpenVINO cannot read it ({_ov_msg(e)})") from None
        a = self.artifact

        def rank(v):
            r = v.get_partial_shape().rank
            return r.get_length() if r.is_static else None

        check_image_io(self.artifact.path, [(i.get_any_name(), rank(i)) for i in model.inputs],
                       [(o.get_any_name(), rank(o)) for o in model.outputs])
        in_names = [n for i in model.inputs for n in [i.get_any_name()]]
        out_names = [o.get_any_name() for o in model.outputs]
        self.input_name = a.input_name if a.input_name in in_names else in_names[0]
        self.output_name = a.output_name if a.output_name in out_names else out_names[0]
        self._state = state_io(in_names, out_names)
        state_channels = 0
        if self._state:
            sp = model.input(self._state[0]).get_partial_shape()
            state_channels = sp[1].get_length() if sp.rank.is_static and sp[1].is_static else 0
        rt = model.get_rt_info()
        mult = a.size_multiple or DEFAULT_MULTIPLE
        pshape = model.input(self.input_name).get_partial_shape()
        max_hw = None
        if pshape.rank.is_static and pshape[2].is_static and pshape[3].is_static:
            max_hw = (pshape[2].get_length(), pshape[3].get_length())
        max_batch = pshape[0].get_length() if pshape.rank.is_static and pshape[0].is_static else None
        config = {"INFERENCE_NUM_THREADS": int(self.threads or default_threads()), "PERFORMANCE_HINT": "LATENCY"}
        # the contract's policy (core/contract.py, as `compile openvino` uses): f32 for fp32/int8 artifacts,
        # the plugin's default for fp16; HUSHFRAME_OV_INFERENCE_PRECISION overrides ("auto": OpenVINO decides)
        from hushframe.core.contract import openvino_cpu_precision_hint

        from hushframe.runtime.cpu_isa import has_bf16

        hint = os.environ.get("HUSHFRAME_OV_INFERENCE_PRECISION") or openvino_cpu_precision_hint(
            self.artifact.precision, self.artifact.extra.get("cpu_float_precision"), has_bf16())
        if dev == "CPU" and hint and hint != "auto":
            config["INFERENCE_PRECISION_HINT"] = hint
        if self.precision != "auto":        # asked for (RunOptions.precision): on any device
            config["INFERENCE_PRECISION_HINT"] = OV_PRECISION[self.precision]
        try:
            self.compiled = core.compile_model(model, dev, config)
        except Exception as e:
            raise ArtifactError(f"{self.artifact.path}: OpenVINO cannot compile it for {dev} "
                                f"({_ov_msg(e)})") from None
        self.request = self.compiled.create_infer_request()
        self._out = self._outputs(self.compiled)
        self._variant_args = (core, model, dev, config)
        dynamic = not (pshape.rank.is_static and all(d.is_static for d in pshape))
        # CPU only: a GPU compile takes seconds per shape, and was not measured here
        static = dev == "CPU" and os.environ.get("HUSHFRAME_OV_STATIC_SHAPES", "1") != "0"
        self._static = OrderedDict() if dynamic and static else None
        self._seen: OrderedDict = OrderedDict()
        prec = a.precision
        if not a.manifest:
            ops = {op.get_type_name() for op in model.get_ops()}
            prec = "int8" if "FakeQuantize" in ops or "FakeConvert" in ops else "fp32"
        del rt
        return BackendInfo(self.name, dev, prec, mult, min_hw=max_hw or (mult, mult), max_hw=max_hw,
                           max_batch=max_batch, input_name=self.input_name, output_name=self.output_name,
                           state_channels=state_channels, detail={"threads": config["INFERENCE_NUM_THREADS"], "openvino": ov.get_version(),
                                   "shapes": "static per input shape" if self._static is not None else
                                             "dynamic" if dynamic else "static",
                                   "inference_precision": str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))})

    def _request_for(self, shape: tuple):
        """The infer request and output port for ``shape``: a static-shape copy of a dynamic model
        (compiled when the shape comes a second time, least recently used dropped), else the model
        as loaded."""
        if self._static is None:
            return self.request, self._out
        if shape in self._static:
            self._static.move_to_end(shape)
            return self._static[shape]
        if shape not in self._seen:  # first sight: the dynamic model (a one-off size compiles nothing)
            self._seen[shape] = None
            while len(self._seen) > SEEN_SHAPES:
                self._seen.popitem(last=False)
            return self.request, self._out
        import openvino as ov

        core, model, dev, config = self._variant_args
        try:
            m = model.clone()
            shapes = {self.input_name: ov.PartialShape(list(shape))}
            if self._state:      # the state follows the frame: N x C x H x W
                c = m.input(self._state[0]).get_partial_shape()[1]
                shapes[self._state[0]] = ov.PartialShape([shape[0], c, shape[2], shape[3]])
            m.reshape(shapes)
            compiled = core.compile_model(m, dev, config)
            entry = (compiled.create_infer_request(), self._outputs(compiled))
        except Exception:  # a graph that cannot be made static still runs as loaded
            entry = (self.request, self._out)
        self._static[shape] = entry
        while len(self._static) > STATIC_SHAPES:
            self._static.popitem(last=False)
        return entry

    def _run(self, batch: np.ndarray) -> np.ndarray:
        try:
            request, out = self._request_for(tuple(batch.shape))
            # share_outputs: views of the request's tensors, copied once below (the default copies them
            # first: two copies of every output, ~6 ms per 1080p temporal step)
            res = request.infer({self.input_name: batch}, share_inputs=True, share_outputs=True)
        except Exception as e:
            raise BackendUnavailable(f"{self.artifact.name}: OpenVINO failed on a "
                                     f"{'x'.join(map(str, batch.shape))} batch ({str(e).splitlines()[0][:160]})") from None
        y = res[out[0]]
        return np.array(y, dtype=np.float32, copy=True)

    def _outputs(self, compiled) -> tuple:
        """The output port, and the state's for a temporal model."""
        return (compiled.output(self.output_name),) + ((compiled.output(self._state[1]),) if self._state else ())

    def _run_state(self, batch, state):
        try:
            request, out = self._request_for(tuple(batch.shape))
            res = request.infer({self.input_name: batch, self._state[0]: state}, share_inputs=True, share_outputs=True)
        except Exception as e:
            raise BackendUnavailable(f"{self.artifact.name}: OpenVINO failed on a "
                                     f"{'x'.join(map(str, batch.shape))} frame ({str(e).splitlines()[0][:160]})") from None
        return np.array(res[out[0]], dtype=np.float32, copy=True), np.array(res[out[1]], dtype=np.float32, copy=True)

    def compile_variant(self, build):
        """Compile ``build(clone of this artifact's model)`` with the same device and settings
        (e.g. a graph that takes NV12 planes: runtime/gstreamer/ov_graph.py)."""
        core, model, dev, config = self._variant_args
        try:
            return core.compile_model(build(model.clone()), dev, config)
        except Exception as e:
            raise ArtifactError(f"{self.artifact.path}: OpenVINO cannot compile it for {dev} "
                                f"({_ov_msg(e)})") from None

    def _release(self):
        self._static = None
        self.request = None
        self.compiled = None
        self._variant_args = None


def _ov_msg(e: Exception) -> str:
    """OpenVINO's first line is a source location ('Exception from src/...:84:'); the reason is the last line."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("Exception from src", "Check '")) and not ln.endswith(":")]
    return (useful[-1] if useful else lines[0] if lines else e.__class__.__name__)[:200]


register_backend(OpenVINOBackend)
