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

INT8_TARGETS = ("auto", "avx2", "vnni", "amx", "gpu")
WEIGHT_BITS = {"avx2": 7, "vnni": 8, "amx": 8, "gpu": 8}
IMAGE_CONV_MODES = ("auto", "float", "int8", "concat")
ROUNDINGS = ("gptq", "nearest")

AUTO_ERROR_BUDGET = (0.5 / 255) ** 2  # predicted output MSE left by int8 (about 0.03 dB at 36 dB PSNR)
AUTO_MAX_FLOAT_MACS = 0.25  # never keep more than this share of the multiply-accumulates in float


CPU_TARGETS = ("avx2", "vnni", "amx")
FLOAT_PRECISIONS = ("auto", "f32", "bf16")
# What each target's `auto` choices become (export/README.md, "INT8 per CPU kind", says why):
#   avx2: the recipe of every artifact before targets were chosen per CPU, unchanged: 7-bit weights,
#         the image convs in int8 but the one carrying the dither's compensation, Q/DQ at conv inputs.
#   vnni, amx: 8-bit weights; the image joins the features' int8 concat as exact signed codes
#         (--image-convs concat), Q/DQ moved above pooling, upsampling and concat (hoist), the dither
#         at half resolution; amx runs the float part (the last conv) in bf16 where the CPU has it.
#   gpu: TensorRT's form: signed codes only, image convs float, no dither.
TARGET_AUTO = {
    "avx2": {"image_convs": "auto", "hoist": False, "float_precision": "f32"},
    "vnni": {"image_convs": "concat", "hoist": True, "float_precision": "f32"},
    "amx": {"image_convs": "concat", "hoist": True, "float_precision": "bf16"},
    "gpu": {"image_convs": "float", "hoist": False, "float_precision": "f32"},
}


def check_target(target: str) -> str:
    t = (target or "auto").lower()
    if t not in INT8_TARGETS:
        raise ExportError(f"--target {target!r}: expected one of {', '.join(INT8_TARGETS)}")
    return t


def choose_target(target: str, flags=None) -> tuple[str, str]:
    """(target, why). ``auto`` picks the recipe for the CPU this runs on (runtime/cpu_isa.py): avx2 on
    AVX2-only and unknown CPUs (7-bit weights: exact on every CPU, today's recipe), vnni or amx on CPUs
    with 32-bit int8 sums. ``flags``: CPU flags to decide for (default: this CPU's)."""
    t = check_target(target)
    if t != "auto":
        return t, f"--target {t}, named"
    from hushframe.runtime.cpu_isa import auto_int8_target

    return auto_int8_target(flags)


def resolve_target(target: str, flags=None) -> str:
    """The target ``target`` stands for on a CPU with ``flags`` (default: this one); see ``choose_target``."""
    return choose_target(target, flags)[0]


def resolve_image_convs(mode, target: str) -> str:
    """``auto`` | ``float`` | ``int8`` | ``concat`` (True / False: the older keep_image_convs flag) for a
    resolved ``target``: ``auto`` becomes the target's choice (``TARGET_AUTO``); on avx2 it stays
    ``auto`` (int8 but for the image convs that carry a dither compensation: recipe step 1). ``gpu``
    keeps them float (TensorRT reads signed codes only; a signed scale over the image costs ~3 grey
    levels a step)."""
    if isinstance(mode, bool):
        mode = "float" if mode else "int8"
    m = str(mode or "auto").lower()
    if m not in IMAGE_CONV_MODES:
        raise ExportError(f"--image-convs {mode!r}: expected one of {', '.join(IMAGE_CONV_MODES)}")
    if target == "gpu":
        if m in ("int8", "concat"):
            raise ExportError(f"--image-convs {m} reads the image as int8 codes (scale 1/255): a CPU target only; "
                              "--target gpu keeps them float")
        return "float"
    return TARGET_AUTO[target]["image_convs"] if m == "auto" else m


@dataclass(frozen=True)
class QuantConfig:
    """The INT8 recipe (export/quantize.py's steps; export/README.md says why each exists).

    target: auto | avx2 | vnni | amx | gpu: the hardware the recipe is made for (step 5); auto: this CPU's kind.
    method: activation ranges, mse | max | percentile[:Q], optionally *HEADROOM (step 3).
    equalize, alpha: per-channel activation equalization and its strength (step 2).
    split_input: split Conv(Concat(features, image)) into a feature and an image conv (step 1).
    image_convs: auto | float | int8 | concat for the convs reading the image (step 1).
    hoist: "auto" or true/false: Q/DQ moved above pooling, upsampling and concat (step 10).
    float_precision: auto | f32 | bf16: what OpenVINO runs the float convs in on CPUs with bf16 (step 11).
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
    hoist: bool | str = "auto"
    float_precision: str = "auto"
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

        fix("target", check_target(self.target))
        if isinstance(self.image_convs, bool):  # the older keep_image_convs flag: True = float
            fix("image_convs", "float" if self.image_convs else "int8")
        fix("image_convs", str(self.image_convs or "auto").lower())
        if self.target != "auto":
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
        if not isinstance(self.hoist, bool) and self.hoist != "auto":
            raise ExportError(f"hoist {self.hoist!r}: expected true, false or auto")
        fix("float_precision", str(self.float_precision or "auto").lower())
        if self.float_precision not in FLOAT_PRECISIONS:
            raise ExportError(f"--float-precision {self.float_precision!r}: expected one of {', '.join(FLOAT_PRECISIONS)}")

    def replace(self, **changes) -> QuantConfig:
        return dataclasses.replace(self, **changes)

    @property
    def auto_float(self) -> bool:
        return self.keep_float == "auto"

    def resolved(self, model_kind: str = "student", flags=None) -> QuantConfig:
        """The same recipe with every ``auto`` that does not need the model's data decided for the CPU
        with ``flags`` (default: this one): the target, the image-conv mode, hoisting, the float
        precision and the dither mode (none for teachers and ``gpu``). ``choice(flags)`` says why."""
        from .dither import resolve_mode

        target = resolve_target(self.target, flags)
        auto = TARGET_AUTO[target]
        return dataclasses.replace(self, target=target, dither=resolve_mode(self.dither, target, model_kind),
                                   image_convs=resolve_image_convs(self.image_convs, target),
                                   hoist=auto["hoist"] if self.hoist == "auto" else self.hoist,
                                   float_precision=auto["float_precision"] if self.float_precision == "auto"
                                   else self.float_precision)

    def choice(self, flags=None) -> dict:
        """The target the recipe is made for, and why (recorded in the manifest, shown by `hushframe info`)."""
        from hushframe.runtime.cpu_isa import describe_cpu

        target, why = choose_target(self.target, flags)
        return {"requested": self.target, "target": target, "why": why, "quantized_on": describe_cpu(flags)}

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
