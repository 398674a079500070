"""``RunOptions``: how a model runs here (engine, device, threads, tiling, precision), for every runner.

    from hushframe.runtime.options import RunOptions
    opts = RunOptions(backend="openvino", threads=2, tile="512x512")
    stream_video("clip.mp4", "student.xml", "clean.mp4", options=opts)
    run_parity("student.xml", pairs="polyu-dev/", reference="student.safetensors", options=opts)
    run_bench(["student.xml"], options=opts)
    with opts.open("student.xml") as be:          # the opened backend
        y = be.infer(x)

One value shared by ``stream``, ``parity``, ``bench``, their CLI options and the GStreamer element's
properties, so an option means the same everywhere and is checked in one place. Immutable
(``replace`` gives a changed copy) and checked when made: a bad value raises
:class:`RunOptionsError`, one line naming the option. Per-run settings that belong to one command
(batch, codec, queue sizes, the parity thresholds) stay with that command.
"""

from __future__ import annotations

import dataclasses
import numbers
import re
from dataclasses import dataclass

from .errors import RuntimeUserError

#: ``auto``: the artifact's own precision under the contract's engine policy (core/contract.py);
#: otherwise the inference precision asked of an engine that can choose (OpenVINO's
#: INFERENCE_PRECISION_HINT); the other engines run the artifact as stored and accept only that.
PRECISIONS = ("auto", "fp32", "fp16", "bf16")

# auto | cpu | cuda[:N] | an OpenVINO device name (CPU, GPU, GPU.1, NPU, AUTO:GPU,CPU, HETERO:GPU,CPU)
_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?|[A-Z][A-Za-z0-9_.]*(:[A-Z][A-Za-z0-9_.,]*)?")


class RunOptionsError(RuntimeUserError, ValueError):
    """A run option out of its range (one line naming the option)."""


@dataclass(frozen=True)
class RunOptions:
    backend: str = "auto"                   # auto (the artifact's own runtime) or a registered backend name
    device: str = "auto"                    # auto | cpu | cuda[:N] | an OpenVINO device name
    threads: int | None = None              # engine CPU threads; None: all cores
    tile: tuple[int, int] | None = None     # (height, width) tile limit; "WIDTHxHEIGHT" accepted; None: engine max
    overlap: int = 64                       # pixels shared by neighbouring tiles (blended)
    precision: str = "auto"                 # one of PRECISIONS

    def __post_init__(self):
        from .backends.base import aliases, list_backends

        known = ["auto", *list_backends()]
        if not isinstance(self.backend, str) or (self.backend not in known and self.backend not in aliases()):
            raise RunOptionsError(f"backend {self.backend!r}: one of {', '.join(known)}")
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(self.device):
            raise RunOptionsError(f"device {self.device!r}: auto, cpu, cuda[:N] or an OpenVINO device name "
                                  f"(CPU, GPU, NPU, ...)")
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, numbers.Integral)
                                         or self.threads < 1):
            raise RunOptionsError(f"threads {self.threads!r}: a whole number of at least 1 (or None: all cores)")
        object.__setattr__(self, "tile", _tile(self.tile))
        if isinstance(self.overlap, bool) or not isinstance(self.overlap, numbers.Integral) or self.overlap < 0:
            raise RunOptionsError(f"overlap {self.overlap!r}: a whole number of pixels, 0 or more")
        if self.precision not in PRECISIONS:
            raise RunOptionsError(f"precision {self.precision!r}: one of {', '.join(PRECISIONS)}")

    def replace(self, **changes) -> "RunOptions":
        """A copy with ``changes`` (checked like a new one)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, options: "RunOptions | None" = None, **changes) -> "RunOptions":
        """``options`` (default: the defaults) with ``changes``: the keyword shorthand the runners accept."""
        base = options if options is not None else cls()
        if not isinstance(base, RunOptions):
            raise TypeError(f"options must be a RunOptions, not {type(base).__name__}")
        unknown = set(changes) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise TypeError(f"unknown run option(s): {', '.join(sorted(unknown))}")
        return base.replace(**changes) if changes else base

    def open(self, model):
        """``model`` (a path or an Artifact) loaded into the chosen engine: an opened backend."""
        from .backends.base import open_backend

        return open_backend(model, backend=self.backend, device=self.device, threads=self.threads,
                            max_hw=self.tile, precision=self.precision)

    def to_dict(self) -> dict:
        """JSON-ready, sizes written WIDTHxHEIGHT."""
        d = dataclasses.asdict(self)
        d["tile"] = None if self.tile is None else f"{self.tile[1]}x{self.tile[0]}"
        return d


def _tile(tile):
    if tile is None or tile == "":
        return None
    if isinstance(tile, str):
        from hushframe.core.contract import parse_size
        from hushframe.core.errors import ContractError

        try:
            return parse_size(tile)
        except ContractError as e:
            raise RunOptionsError(f"tile: {e}") from None
    try:
        h, w = (int(v) for v in tile)
        ok = all(int(v) == v for v in tile) and h > 0 and w > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise RunOptionsError(f"tile {tile!r}: WIDTHxHEIGHT such as 512x512, or a (height, width) of positive "
                              f"whole numbers")
    return (h, w)
