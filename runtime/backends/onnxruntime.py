"""ONNX Runtime backend: CPU, or CUDA / TensorRT execution providers when installed."""

from __future__ import annotations

import numpy as np

from ..errors import ArtifactError, BackendUnavailable
from .base import Backend, BackendInfo, check_image_io, default_threads, register_backend, state_io


def _providers_for(device: str, available: list[str]) -> list[str]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    want = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") or device == "auto" else []
    if device == "tensorrt":
        want = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in want if p in available] or ["CPUExecutionProvider"]


class ONNXRuntimeBackend(Backend):
    name = "onnxruntime"
    formats = ("onnx",)
    auto_for = ('onnx',)
    aliases = ('ort', 'onnx')

    @classmethod
    def available(cls, device: str = "auto"):
        try:
            import onnxruntime as ort
        except ImportError as e:
            return False, f"onnxruntime is not installed ({e}); pip install 'hushframe[runtime-onnx]'"
        if device.startswith("cuda") and "CUDAExecutionProvider" not in ort.get_available_providers():
            return False, "onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu)"
        return True, ""

    def _load(self) -> BackendInfo:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads or default_threads()
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        providers = _providers_for(self.device, ort.get_available_providers())
        try:
            self.session = ort.InferenceSession(str(self.artifact.path), so, providers=providers)
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ArtifactError(f"{self.artifact.path}: ONNX Runtime cannot load it "
                                f"({str(e).splitlines()[0][:160]})") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        check_image_io(self.artifact.path, [(i.name, len(i.shape) if i.shape is not None else None) for i in inputs],
                       [(o.name, len(o.shape) if o.shape is not None else None) for o in outputs])
        a = self.artifact
        names_in, names_out = [i.name for i in inputs], [o.name for o in outputs]
        self.input_name = a.input_name if a.input_name in names_in else names_in[0]
        self.output_name = a.output_name if a.output_name in names_out else names_out[0]
        self._state = state_io(names_in, names_out)
        state_channels = 0
        if self._state:
            sshape = next(i.shape for i in inputs if i.name == self._state[0])
            state_channels = sshape[1] if isinstance(sshape[1], int) else 0
        try:
            meta = self.session.get_modelmeta().custom_metadata_map or {}
        except UnicodeDecodeError:  # ONNX Runtime loads a model whose metadata is not UTF-8, then cannot show it
            raise ArtifactError(f"{self.artifact.path}: damaged ONNX metadata (not UTF-8 text)") from None
        mult = a.size_multiple or int(meta.get("size_multiple", 32) or 32)
        prec = a.precision if a.manifest else str(meta.get("precision", a.precision))
        shape = next(i.shape for i in inputs if i.name == self.input_name)
        max_hw = None
        fixed_n = shape[0] if isinstance(shape[0], int) else None
        if isinstance(shape[2], int) and isinstance(shape[3], int):
            max_hw = (shape[2], shape[3])  # a static graph takes exactly this size
        self._static = max_hw
        itype = next(i.type for i in inputs if i.name == self.input_name)
        self._fp16_io = "float16" in itype
        used = self.session.get_providers()[0]
        dev = "cpu" if used == "CPUExecutionProvider" else ("cuda:0" if "CUDA" in used else used)
        info = BackendInfo(self.name, dev, prec, mult, min_hw=max_hw or (mult, mult), max_hw=max_hw,
                           max_batch=fixed_n, input_name=self.input_name, output_name=self.output_name,
                           state_channels=state_channels, detail={"providers": self.session.get_providers(), "threads": so.intra_op_num_threads})
        return info

    def _run(self, batch: np.ndarray) -> np.ndarray:
        x = batch.astype(np.float16) if self._fp16_io else batch
        try:
            (y,) = self.session.run([self.output_name], {self.input_name: x})
        except Exception as e:
            raise BackendUnavailable(f"{self.artifact.name}: ONNX Runtime failed on a "
                                     f"{'x'.join(map(str, batch.shape))} batch ({str(e).splitlines()[0][:160]})") from None
        return y if y.dtype == np.float32 else y.astype(np.float32)

    def _run_state(self, batch, state):
        sin, sout = self._state
        x, s = (batch.astype(np.float16), state.astype(np.float16)) if self._fp16_io else (batch, state)
        try:
            y, s2 = self.session.run([self.output_name, sout], {self.input_name: x, sin: s})
        except Exception as e:
            raise BackendUnavailable(f"{self.artifact.name}: ONNX Runtime failed on a "
                                     f"{'x'.join(map(str, batch.shape))} frame ({str(e).splitlines()[0][:160]})") from None
        return y.astype(np.float32, copy=False), s2.astype(np.float32, copy=False)

    def _release(self):
        self.session = None


register_backend(ONNXRuntimeBackend)
