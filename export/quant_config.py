"""One INT8 recipe as one value: ``QuantConfig``, validated when made, recorded in the manifest.

``hushframe quantize``'s options, ``quantize.quantize`` and ``quantize.quantize_int8_model`` all
take a ``QuantConfig``; a bad value fails here, before any calibration, with the CLI flag's name.
``resolved(model_kind)`` turns the ``auto`` choices into what the artifact gets (the target, the
image-conv mode and the dither), which is what the manifest's ``quantization.config`` records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .errors import ExportError

# MSE-optimal ranges over the (128) calibration crops. The earlier default, the largest value of 32
# crops x1.5, existed because 32 crops missed saturated colours (1.3 dB on one polyu-dev image with MSE
# ranges); 128 crops cover them, and the finer steps halve the worst images' drops (export/README.md,
# "Calibration coverage, not headroom").
DEFAULT_METHOD = "mse"

INT8_TARGETS = ("auto", "avx2", "vnni", "gpu")
WEIGHT_BITS = {"avx2": 7, "vnni": 8, "gpu": 8}
IMAGE_CONV_MODES = ("auto", "float", "int8")
ROUNDINGS = ("gptq", "nearest")

AUTO_ERROR_BUDGET = (0.5 / 255) ** 2  # predicted output MSE left by int8 (about 0.03 dB at 36 dB PSNR)
AUTO_MAX_FLOAT_MACS = 0.25  # never keep more than this share of the multiply-accumulates in float


def resolve_target(target: str) -> str:
    """``auto`` -> ``avx2``: 7-bit weights cost nothing measurable here (export/README.md) and run
    exactly on every CPU, so the default artifact is safe on whatever CPU it is copied to.
    TensorRT engines need ``gpu`` (signed activations only) when the network has ReLU outputs."""
    t = (target or "auto").lower()
    if t not in INT8_TARGETS:
        raise ExportError(f"--target {target!r}: expected one of {', '.join(INT8_TARGETS)}")
    return "avx2" if t == "auto" else t


def resolve_image_convs(mode, target: str) -> str:
    """``auto`` | ``float`` | ``int8`` (True / False: the older keep_image_convs flag) -> float or int8
    for ``gpu`` targets, and for CPU targets ``float``, ``int8`` or ``auto`` (int8 but for the
    image convs that carry a dither compensation: recipe step 1)."""
    if isinstance(mode, bool):
        mode = "float" if mode else "int8"
    m = str(mode or "auto").lower()
    if m not in IMAGE_CONV_MODES:
        raise ExportError(f"--image-convs {mode!r}: expected one of {', '.join(IMAGE_CONV_MODES)}")
    if resolve_target(target) == "gpu":
        if m == "int8":
            raise ExportError("--image-convs int8 reads the image as unsigned codes (scale 1/255): a CPU target only; "
                              "--target gpu keeps them float")
        return "float"
    return m


@dataclass(frozen=True)
class QuantConfig:
    """The INT8 recipe (export/quantize.py's steps; export/README.md says why each exists).

    target: auto | avx2 | vnni | gpu: the hardware the artifact must be exact on (step 5).
    method: activation ranges, mse | max | percentile[:Q], optionally *HEADROOM (step 3).
    equalize, alpha: per-channel activation equalization and its strength (step 2).
    split_input: split Conv(Concat(features, image)) into a feature and an image conv (step 1).
    image_convs: auto | float | int8 for the convs reading the image (step 1).
    keep_float: "auto" (measured, step 4) or the conv names to keep float.
    budget, max_float_macs: the automatic keep-float choice's error budget and MAC cap (step 4).
    unsigned_relu: unsigned codes for tensors non-negative by construction, CPU targets (step 3).
    rounding: gptq | nearest weight codes (step 6).
    finetune_steps: quantization-aware fine-tuning steps, 0 = none (step 7).
    dither: auto | last | decoder | all | none (step 8).
    """

    target: str = "auto"
    method: str = DEFAULT_METHOD
    equalize: bool = True
    alpha: float = 1.0
    split_input: bool = True
    image_convs: str = "auto"
    keep_float: str | tuple[str, ...] = "auto"
    budget: float = AUTO_ERROR_BUDGET
    max_float_macs: float = AUTO_MAX_FLOAT_MACS
    unsigned_relu: bool = True
    rounding: str = "gptq"
    finetune_steps: int = 0
    dither: str = "auto"

    def __post_init__(self):
        from .dither import DITHER_MODES
        from .ranges import check_method

        def fix(name, value):
            object.__setattr__(self, name, value)

        fix("target", str(self.target or "auto").lower())
        resolve_target(self.target)
        if isinstance(self.image_convs, bool):  # the older keep_image_convs flag: True = float
            fix("image_convs", "float" if self.image_convs else "int8")
        fix("image_convs", str(self.image_convs or "auto").lower())
        resolve_image_convs(self.image_convs, self.target)
        try:
            check_method(str(self.method))
        except ValueError as e:
            raise ExportError(f"--method: {e}") from None
        if isinstance(self.keep_float, str):
            if self.keep_float != "auto":
                raise ExportError(f"--keep-float {self.keep_float!r}: conv names, or 'auto'")
        else:
            names = tuple(str(n) for n in self.keep_float)
            if any(not n for n in names):
                raise ExportError("--keep-float: empty conv name")
            fix("keep_float", names)
        if self.rounding not in ROUNDINGS:
            raise ExportError(f"rounding {self.rounding!r}: expected {' or '.join(ROUNDINGS)}")
        if isinstance(self.finetune_steps, bool) or not isinstance(self.finetune_steps, int) or self.finetune_steps < 0:
            raise ExportError(f"--finetune-steps {self.finetune_steps!r}: a whole number of steps >= 0")
        fix("dither", str(self.dither or "auto").lower())
        if self.dither not in DITHER_MODES:
            raise ExportError(f"--dither {self.dither!r}: expected one of {', '.join(DITHER_MODES)}")
        if not self.alpha > 0:
            raise ExportError(f"equalization alpha {self.alpha!r}: expected > 0")
        if not self.budget > 0:
            raise ExportError(f"keep-float error budget {self.budget!r}: expected > 0")
        if not 0 <= self.max_float_macs <= 1:
            raise ExportError(f"max_float_macs {self.max_float_macs!r}: a share of the MACs in [0, 1]")
        for name in ("equalize", "split_input", "unsigned_relu"):
            if not isinstance(getattr(self, name), bool):
                raise ExportError(f"{name} {getattr(self, name)!r}: expected true or false")

    def replace(self, **changes) -> QuantConfig:
        return dataclasses.replace(self, **changes)

    @property
    def auto_float(self) -> bool:
        return self.keep_float == "auto"

    def resolved(self, model_kind: str = "student") -> QuantConfig:
        """The same recipe with every ``auto`` that does not need the model's data decided: the
        target, the dither mode (none for teachers and ``gpu``) and the image-conv mode."""
        from .dither import resolve_mode

        target = resolve_target(self.target)
        dither = resolve_mode(self.dither, target, model_kind)
        return dataclasses.replace(self, target=target, dither=dither,
                                   image_convs=resolve_image_convs(self.image_convs, target))

    @property
    def weight_bits(self) -> int:
        return WEIGHT_BITS[resolve_target(self.target)]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if isinstance(d["keep_float"], tuple):
            d["keep_float"] = list(d["keep_float"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> QuantConfig:
        """A config recorded in a manifest (unknown keys refused: a recipe is never half-read)."""
        names = {f.name for f in dataclasses.fields(cls)}
        extra = sorted(set(d) - names)
        if extra:
            raise ExportError(f"quantization config: unknown keys {', '.join(extra)}")
        d = dict(d)
        if isinstance(d.get("keep_float"), list):
            d["keep_float"] = tuple(d["keep_float"])
        return cls(**d)
