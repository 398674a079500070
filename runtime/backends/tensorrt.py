"""TensorRT backend: a serialized engine (.engine/.plan) run with the TensorRT 10 tensor API.

Device memory and copies go through cuda-python (``cuda.bindings.runtime``, or the older
``cuda.cudart``), so no torch is needed. The engine's optimization profile 0 gives the
accepted shapes (min/max H, W and batch); larger frames are tiled by the caller.
"""

from __future__ import annotations

import numpy as np

from hushframe.core.contract import DEFAULT_MULTIPLE

from ..errors import ArtifactError, BackendUnavailable
from .base import Backend, BackendInfo, register_backend, state_io


def _cudart():
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        from cuda import cudart  # older cuda-python
    return cudart


def _check(result):
    """cuda-python calls return (err, *values)."""
    err, *vals = result if isinstance(result, tuple) else (result,)
    code = int(err) if not hasattr(err, "value") else int(err.value)
    if code != 0:
        raise BackendUnavailable(f"CUDA call failed with error {err}")
    return vals[0] if len(vals) == 1 else (tuple(vals) if vals else None)


class TensorRTBackend(Backend):
    name = "tensorrt"
    formats = ("tensorrt",)
    auto_for = ('tensorrt',)
    aliases = ('trt',)

    @classmethod
    def available(cls, device: str = "auto"):
        try:
            import tensorrt  # noqa: F401
        except ImportError as e:
            return False, f"tensorrt is not installed ({e}); pip install 'hushframe[runtime-tensorrt]'"
        try:
            cudart = _cudart()
        except ImportError as e:
            return False, f"cuda-python is not installed ({e})"
        try:
            n = _check(cudart.cudaGetDeviceCount())
        except Exception as e:  # driver missing
            return False, f"no CUDA driver/device ({e})"
        if not n:
            return False, "no CUDA device"
        if device == "cpu":
            return False, "TensorRT needs a CUDA device"
        return True, ""

    def _load(self) -> BackendInfo:
        import tensorrt as trt

        cudart = _cudart()
        dev_index = int(self.device.split(":")[1]) if self.device.startswith("cuda:") else 0
        _check(cudart.cudaSetDevice(dev_index))
        props = _check(cudart.cudaGetDeviceProperties(dev_index))
        gpu = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        # the contract's checks (core/contract.py) before deserializing: same TensorRT, same GPU, same bytes
        from hushframe.core.contract import check_tensorrt_manifest
        from hushframe.core.errors import EngineMismatchError
        from hushframe.core.manifest import file_sha256

        try:
            check_tensorrt_manifest(self.artifact.manifest, trt.__version__,
                                    {"name": gpu, "compute_capability": f"{props.major}.{props.minor}"},
                                    self.artifact.path, sha256=file_sha256(self.artifact.path))
        except EngineMismatchError as e:
            raise ArtifactError(str(e)) from None
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        data = self.artifact.path.read_bytes()
        self.engine = self._runtime.deserialize_cuda_engine(data)
        if self.engine is None:
            raise ArtifactError(f"{self.artifact.path}: TensorRT cannot deserialize it (built with another TensorRT "
                                f"version {trt.__version__} or for another GPU?)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        ins = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        a = self.artifact
        self.input_name = a.input_name if a.input_name in ins else ins[0]
        self.output_name = a.output_name if a.output_name in outs else outs[0]
        self._state = state_io(ins, outs)
        state_channels = int(self.engine.get_tensor_shape(self._state[0])[1]) if self._state else 0
        mn, opt, mx = self.engine.get_tensor_profile_shape(self.input_name, 0)
        self.stream = _check(cudart.cudaStreamCreate())
        self._buffers: dict[str, tuple[int, int]] = {}  # name -> (ptr, nbytes)
        mult = a.size_multiple or DEFAULT_MULTIPLE
        prec = a.precision
        return BackendInfo(self.name, f"cuda:{dev_index}", prec, mult, min_hw=(int(mn[2]), int(mn[3])),
                           max_hw=(int(mx[2]), int(mx[3])), max_batch=int(mx[0]),
                           input_name=self.input_name, output_name=self.output_name, state_channels=state_channels,
                           detail={"tensorrt": trt.__version__, "gpu": gpu,
                                   "profile": {"min": list(mn), "opt": list(opt), "max": list(mx)}})

    def _buffer(self, name: str, nbytes: int) -> int:
        cudart = _cudart()
        ptr, have = self._buffers.get(name, (0, 0))
        if have < nbytes:
            if ptr:
                _check(cudart.cudaFree(ptr))
            ptr = _check(cudart.cudaMalloc(nbytes))
            self._buffers[name] = (ptr, nbytes)
            self.context.set_tensor_address(name, ptr)
        return ptr

    def _run(self, batch: np.ndarray) -> np.ndarray:
        return self._execute({self.input_name: batch}, [self.output_name])[0]

    def _run_state(self, batch, state):
        # the state input and output are separate device buffers: state_out is copied back and, aligned
        # on the host (runtime/temporal.py), becomes the next frame's state_in
        return tuple(self._execute({self.input_name: batch, self._state[0]: state}, [self.output_name, self._state[1]]))

    def _execute(self, feeds: dict, fetch: list) -> list:
        """Copy ``feeds`` (name -> host array) in, run, copy ``fetch`` out (TensorRT 10 name-based I/O)."""
        import tensorrt as trt

        cudart = _cudart()
        h2d, d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for name, arr in feeds.items():
            x = np.ascontiguousarray(arr, dtype=np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))))
            if not self.context.set_input_shape(name, tuple(x.shape)):
                raise BackendUnavailable(f"{self.artifact.name}: TensorRT profile does not take {name} {tuple(x.shape)}")
            _check(cudart.cudaMemcpyAsync(self._buffer(name, x.nbytes), x.ctypes.data, x.nbytes, h2d, self.stream))
            feeds[name] = x      # kept alive until the stream is synchronized
        outs = []
        for name in fetch:
            y = np.empty(tuple(self.context.get_tensor_shape(name)),
                         dtype=np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))))
            self._buffer(name, y.nbytes)
            outs.append(y)
        if not self.context.execute_async_v3(self.stream):
            raise BackendUnavailable(f"{self.artifact.name}: TensorRT execution failed")
        for name, y in zip(fetch, outs):
            _check(cudart.cudaMemcpyAsync(y.ctypes.data, self._buffers[name][0], y.nbytes, d2h, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return [y.astype(np.float32, copy=False) for y in outs]

    def _release(self):
        cudart = _cudart()
        for ptr, _ in self._buffers.values():
            cudart.cudaFree(ptr)
        self._buffers = {}
        if getattr(self, "stream", None) is not None:
            cudart.cudaStreamDestroy(self.stream)
            self.stream = None
        self.context = None
        self.engine = None


register_backend(TensorRTBackend)
