"""One interface for every engine: open (context manager), describe, infer a batch.

Modelled on Polygraphy's runner split: a *backend* knows how to load one artifact into
one engine on one device and run ``infer(batch)``; nothing else. Pre/post-processing,
tiling and threading live outside (frames.py, tiling.py, pipeline.py).

    with open_backend("student.onnx", backend="auto") as be:
        print(be.info.describe())
        y = be.infer(x)          # float32 NCHW in [0,1] -> float32 NCHW

``infer`` takes H and W that are multiples of ``info.size_multiple`` and within
``info.max_hw`` (None: unbounded); callers pad and tile (see frames.py / tiling.py).
"""

from __future__ import annotations

import abc
import importlib
import os
import pkgutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..artifact import Artifact, load_artifact
from ..errors import ArtifactError, BackendUnavailable, ShapeError


@dataclass
class BackendInfo:
    backend: str                         # registry name, e.g. "onnxruntime"
    device: str                          # "cpu", "cuda:0", "CPU" ...
    precision: str                       # fp32 | fp16 | int8
    size_multiple: int                   # H and W must be multiples of this
    min_hw: tuple[int, int] = (1, 1)
    max_hw: tuple[int, int] | None = None  # None: any size the memory allows
    max_batch: int | None = None
    input_name: str = "input"
    output_name: str = "output"
    state_channels: int = 0               # > 0: a temporal model, (input, state_in) -> (output, state_out)
    detail: dict = field(default_factory=dict)

    @property
    def temporal(self) -> bool:
        return self.state_channels > 0

    def describe(self) -> str:
        shapes = "any size" if self.max_hw is None else f"up to {self.max_hw[1]}x{self.max_hw[0]}"
        b = "" if self.max_batch is None else f", batch <= {self.max_batch}"
        t = f", temporal ({self.state_channels}-channel state)" if self.state_channels else ""
        return (f"{self.backend} on {self.device}, {self.precision}, "
                f"sizes a multiple of {self.size_multiple}, {shapes}{b}{t}")

    def to_dict(self) -> dict:
        return asdict(self)

    def accepts(self, h: int, w: int) -> bool:
        m = self.size_multiple or 1
        if h % m or w % m or h < self.min_hw[0] or w < self.min_hw[1]:
            return False
        return self.max_hw is None or (h <= self.max_hw[0] and w <= self.max_hw[1])


def state_io(inputs: list[str], outputs: list[str]) -> tuple[str, str] | None:
    """(state input, state output) names of a temporal graph (core/temporal.py's contract), else None."""
    from hushframe.core.temporal import STATE_IN, STATE_OUT

    if STATE_IN in inputs and STATE_OUT in outputs:
        return STATE_IN, STATE_OUT
    return None


def check_image_io(path, inputs: list, outputs: list) -> None:
    """A graph the runtime can drive: an image (rank 4) in and out. ``inputs``/``outputs``: (name, rank)."""
    shown = ", ".join(f"{n} (rank {r})" for n, r in inputs) or "none"
    if not inputs or not outputs or inputs[0][1] not in (4, None) or outputs[0][1] not in (4, None):
        raise ArtifactError(f"{path}: not a denoiser graph (inputs: {shown}; outputs: {len(outputs)}); expected an "
                            f"N x 3 x H x W image in and out")


class Backend(abc.ABC):
    """Base class; subclasses set ``name`` and ``formats`` and implement the abstract methods."""

    name: str = ""
    formats: tuple[str, ...] = ()        # artifact formats this backend can load
    auto_for: tuple[str, ...] = ()       # formats it is `auto`'s choice for (the artifact's own runtime)
    aliases: tuple[str, ...] = ()        # other names it answers to (ort, ov, ...)
    precisions: tuple[str, ...] = ()     # inference precisions it can be asked for (RunOptions.precision);
                                         # others run the artifact as stored and take only that one

    def __init__(self, artifact: Artifact, device: str = "auto", threads: int | None = None,
                 max_hw: tuple[int, int] | None = None, precision: str = "auto"):
        self.artifact = artifact
        self.device = device
        self.threads = threads
        self.precision = precision
        self._max_hw_override = max_hw
        self._info: BackendInfo | None = None

    # ---- availability (cheap: may import the engine, must not load a model)
    @classmethod
    def available(cls, device: str = "auto") -> tuple[bool, str]:
        """(True, "") or (False, reason)."""
        return True, ""

    @classmethod
    def supports(cls, artifact: Artifact) -> bool:
        return artifact.format in cls.formats

    # ---- lifecycle
    @abc.abstractmethod
    def _load(self) -> BackendInfo: ...

    @abc.abstractmethod
    def _run(self, batch: np.ndarray) -> np.ndarray: ...

    def _run_state(self, batch: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A temporal model's step; backends that load temporal graphs implement it."""
        raise BackendUnavailable(f"{self.artifact.name}: the {self.name} backend cannot run temporal models")

    def _release(self) -> None:
        pass

    def open(self) -> "Backend":
        if self._info is None:
            p = self.precision
            if p not in ("auto", *self.precisions) and p != self.artifact.precision:
                raise BackendUnavailable(f"{self.artifact.name}: {self.name} runs the {self.artifact.precision} "
                                         f"artifact as stored, not at precision {p}"
                                         + (f" (it can run at {', '.join(self.precisions)})" if self.precisions else ""))
            info = self._load()
            if self._max_hw_override is not None:
                mh = tuple(int(v) for v in self._max_hw_override)
                info.max_hw = mh if info.max_hw is None else (min(mh[0], info.max_hw[0]), min(mh[1], info.max_hw[1]))
            if info.precision == "int8" and str(info.device).lower().startswith("cpu"):
                from ..cpu_isa import warn_if_off_target

                # An INT8 artifact made for VNNI/GPUs can saturate on an AVX2-only CPU: say so.
                problem = warn_if_off_target(self.artifact.name, self.artifact.extra.get("int8_target"))
                if problem:
                    info.detail["int8_target_warning"] = problem
            self._info = info
        return self

    def close(self) -> None:
        if self._info is not None:
            self._release()
            self._info = None

    def __enter__(self) -> "Backend":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def info(self) -> BackendInfo:
        if self._info is None:
            raise RuntimeError("backend not opened (use it as a context manager or call open())")
        return self._info

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """float32 NCHW in [0,1] -> float32 NCHW (same shape)."""
        info = self.info
        if batch.ndim != 4 or batch.shape[1] != 3:
            raise ShapeError(f"{self.artifact.name}: expected an N x 3 x H x W batch, got {tuple(batch.shape)}")
        n, _, h, w = batch.shape
        if not info.accepts(h, w):
            raise ShapeError(f"{self.artifact.name}: {self.name} cannot take {w}x{h} "
                             f"({info.describe()}); pad or tile first")
        if info.max_batch is not None and n > info.max_batch:
            return np.concatenate([self.infer(batch[i:i + info.max_batch]) for i in range(0, n, info.max_batch)])
        if batch.dtype != np.float32 or not batch.flags.c_contiguous:
            batch = np.ascontiguousarray(batch, dtype=np.float32)
        if info.state_channels:
            # a temporal model asked for one frame on its own: the first frame of a stream (no history)
            return self._run_state(batch, np.zeros((n, info.state_channels, h, w), np.float32))[0]
        return self._run(batch)

    def infer_state(self, batch: np.ndarray, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A temporal model's step: (N x 3 x H x W frames, N x C x H x W state) -> (output, state_out).

        The state is the previous step's ``state_out`` aligned to this frame (runtime/temporal.py);
        zeros for the first frame of a stream. Both arrays returned are new and the caller's to keep (a
        lookahead session holds several frames' outputs at once): no engine buffer is handed out."""
        info = self.info
        if not info.state_channels:
            raise ShapeError(f"{self.artifact.name}: not a temporal model (it has no {info.input_name}/state_in pair)")
        n, _, h, w = batch.shape
        if not info.accepts(h, w):
            raise ShapeError(f"{self.artifact.name}: {self.name} cannot take {w}x{h} ({info.describe()}); "
                             f"a temporal model runs whole frames, not tiles")
        if state.shape != (n, info.state_channels, h, w):
            raise ShapeError(f"{self.artifact.name}: state of shape {tuple(state.shape)} for a "
                             f"{n}x3x{h}x{w} frame; expected {(n, info.state_channels, h, w)}")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        state = np.ascontiguousarray(state, dtype=np.float32)
        return self._run_state(batch, state)


# ------------------------------------------------------------------ registry
# Each backend registers itself, at the end of its own module: ``register_backend(OpenVINOBackend)``,
# the class carrying its name, aliases, the formats it loads and those it is ``auto`` for. The CLI's
# help, RunOptions' check and ``auto`` all read the registry, so a new engine is one new module here.
# ``_registry`` imports each module of this package once; they import only numpy and this module, so
# torch, OpenVINO ... still load only when a backend is opened or asked whether it is available.
_REGISTRY: dict[str, "type[Backend] | str"] = {}
_discovered = False


def register_backend(backend, target: str | None = None) -> None:
    """Add an engine: a :class:`Backend` subclass, or ``(name, "module:Class")`` imported only when used
    (its aliases and ``auto_for`` are then unknown until then, so it is picked by name only)."""
    if isinstance(backend, str):
        _REGISTRY[backend] = target
    else:
        _REGISTRY[backend.name] = backend


def _registry() -> dict:
    global _discovered
    if not _discovered:
        _discovered = True
        pkg = importlib.import_module(__package__)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name != "base":
                importlib.import_module(f"{__package__}.{info.name}")
    return _REGISTRY


def _classes() -> list:
    return [c for c in _registry().values() if not isinstance(c, str)]


def list_backends() -> list[str]:
    return list(_registry())


def aliases() -> dict[str, str]:
    """Short names (ort, ov, trt, pytorch, ...) -> the backend's name."""
    return {a: c.name for c in _classes() for a in c.aliases}


def auto_order() -> dict[str, list[str]]:
    """Artifact format -> the backends ``auto`` tries for it, in registration order.

    ``auto`` runs an artifact on its own runtime: an .onnx on ONNX Runtime, an OpenVINO IR on
    OpenVINO, an engine on TensorRT. (OpenVINO also loads .onnx and is faster on Intel CPUs, but then
    `bench student.onnx student.xml` would time OpenVINO twice and `parity x.xml -r x.onnx` would
    compare OpenVINO with itself; ask for it with --backend openvino.) A CUDA device changes nothing
    for .onnx: ONNX Runtime takes the TensorRT/CUDA execution providers when installed.
    """
    out: dict[str, list[str]] = {}
    for c in _classes():
        for fmt in c.auto_for:
            out.setdefault(fmt, []).append(c.name)
    return out


def backend_help() -> str:
    """The --backend choices as the CLI and the GStreamer element show them, from the registry."""
    from hushframe.core.contract import FORMATS

    own = ", ".join("/".join(ext for ext, f in FORMATS.items() if f == fmt) + f" -> {names[0]}"
                    for fmt, names in auto_order().items())
    return f"auto (the artifact's own runtime: {own}) | " + " | ".join(list_backends())


def backend_class(name: str) -> type[Backend]:
    name = aliases().get(name, name)
    reg = _registry()
    if name not in reg:
        raise BackendUnavailable(f"unknown backend '{name}' (known: auto, {', '.join(reg)})")
    entry = reg[name]
    if isinstance(entry, str):
        mod, cls = entry.split(":")
        return getattr(importlib.import_module(mod), cls)
    return entry


def available_backends(artifact: Artifact | None = None, device: str = "auto") -> dict[str, str]:
    """name -> "" if usable, else the reason it is not (for this artifact if given)."""
    out = {}
    for name in list_backends():
        try:
            cls = backend_class(name)
        except ImportError as e:
            out[name] = f"not importable ({e})"
            continue
        if artifact is not None and not cls.supports(artifact):
            out[name] = f"cannot load {artifact.format} artifacts"
            continue
        ok, why = cls.available(device)
        out[name] = "" if ok else why
    return out


def select_backend(artifact: Artifact, backend: str = "auto", device: str = "auto") -> tuple[type[Backend], str]:
    """The backend class to use and a one-line reason (printed by the CLI)."""
    if backend != "auto":
        cls = backend_class(backend)
        if not cls.supports(artifact):
            raise ArtifactError(f"{artifact.path}: backend {cls.name} cannot load {artifact.format} artifacts "
                                f"(it takes {', '.join(cls.formats)})")
        ok, why = cls.available(device)
        if not ok:
            raise BackendUnavailable(f"backend {cls.name} is not usable here: {why}")
        return cls, "requested"
    order = auto_order().get(artifact.format, [])
    reasons = []
    for name in order:
        try:
            cls = backend_class(name)
        except ImportError as e:
            reasons.append(f"{name}: {e}")
            continue
        ok, why = cls.available(device)
        if ok:
            return cls, f"auto: the artifact's own runtime ({artifact.format} -> {name})"
        reasons.append(f"{name}: {why}")
    raise BackendUnavailable(f"{artifact.path}: no installed backend can run a {artifact.format} artifact"
                             + (f" ({'; '.join(reasons)})" if reasons else ""))


def open_backend(artifact: str | Path | Artifact, backend: str = "auto", device: str = "auto",
                 threads: int | None = None, max_hw: tuple[int, int] | None = None, precision: str = "auto") -> Backend:
    """Load ``artifact`` into the chosen engine and return the opened backend.

    The returned object is a context manager; ``backend.selection`` holds why it was chosen.
    ``RunOptions(...).open(artifact)`` (runtime/options.py) is the same call with checked options.
    """
    art = artifact if isinstance(artifact, Artifact) else load_artifact(artifact)
    cls, why = select_backend(art, backend, device)
    be = cls(art, device=device, threads=threads, max_hw=max_hw, precision=precision)
    be.selection = why
    return be.open()


def default_threads() -> int:
    return max(1, os.cpu_count() or 1)
