"""PyTorch backend for our .safetensors weights (the FP32 reference); CPU or CUDA.

The only module of the runtime that imports torch, and only when this backend is used. The
network comes from the model provider (core/models.py: the toolkit's, found by its entry point).
"""

from __future__ import annotations

import numpy as np

from ..errors import ArtifactError, BackendUnavailable
from .base import Backend, BackendInfo, register_backend


class TorchBackend(Backend):
    name = "torch"
    formats = ("torch",)
    auto_for = ('torch',)
    aliases = ('pytorch',)

    @classmethod
    def available(cls, device: str = "auto"):
        try:
            import torch
        except ImportError:
            return False, "PyTorch is not installed (the runtime installs do not carry it; use an exported artifact)"
        if device.startswith("cuda") and not torch.cuda.is_available():
            return False, "torch sees no CUDA device"
        return True, ""

    def _load(self) -> BackendInfo:
        import torch

        from hushframe.core.errors import HushframeError
        from hushframe.core.models import load_model

        dev = self.device
        if dev == "auto":
            dev = "cuda" if torch.cuda.is_available() else "cpu"
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailable("torch sees no CUDA device")
        if self.threads and dev == "cpu":
            torch.set_num_threads(int(self.threads))
        try:
            self.model = load_model(self.artifact.path, device=dev)
        except HushframeError as e:
            raise ArtifactError(str(e)) from None
        self.torch_device = torch.device(dev)
        self._torch = torch  # bound once: _run is per frame
        mult = int(getattr(self.model, "size_multiple", 0) or self.artifact.size_multiple or 32)
        name = str(self.torch_device) if dev != "cuda" else "cuda:0"
        state_channels = int(getattr(self.model, "state_channels", 0) or 0) if getattr(self.model, "temporal", False) else 0
        return BackendInfo(self.name, name, "fp32", mult, min_hw=(mult, mult), state_channels=state_channels,
                           detail={"arch": getattr(self.model, "arch", None), "torch": torch.__version__})

    def _run(self, batch: np.ndarray) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.torch_device)
            y = self.model(x)
            return y.float().cpu().numpy()

    def _run_state(self, batch, state):
        torch = self._torch
        with torch.inference_mode():
            y, s = self.model(torch.from_numpy(batch).to(self.torch_device), torch.from_numpy(state).to(self.torch_device))
            return y.float().cpu().numpy(), s.float().cpu().numpy()

    def _release(self):
        self.model = None


register_backend(TorchBackend)
