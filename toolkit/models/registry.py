"""Model registry in the spirit of timm: a name -> builder table and ``create_model``.

Our weights files carry ``arch`` and ``config`` in their safetensors metadata, so
``create_model(arch, **config)`` rebuilds the exact network before loading.
"""

from __future__ import annotations

from typing import Callable

_REGISTRY: dict[str, Callable] = {}
_KINDS: dict[str, str] = {}


def register_model(name: str, kind: str):
    def deco(fn):
        _REGISTRY[name] = fn
        _KINDS[name] = kind
        return fn

    return deco


def list_models(kind: str | None = None) -> list[str]:
    return sorted(n for n in _REGISTRY if kind is None or _KINDS[n] == kind)


def model_kind(name: str) -> str:
    return _KINDS[name]


def create_model(name: str, **config):
    if name not in _REGISTRY:
        _load_method_models()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model '{name}'; known: {', '.join(list_models())}")
    model = _REGISTRY[name](**config)
    model.arch = name
    return model


@register_model("atbsn", kind="teacher")
def atbsn(width: int = 48, levels: int = 5, in_ch: int = 3, blind_spot: int = 3, edge: str = "replicate", **_ignored):
    from .teacher import ATBSN

    return ATBSN(width=width, levels=levels, in_ch=in_ch, blind_spot=blind_spot, edge=edge)


def _student(variant):
    def build(width: int = 48, in_ch: int = 3, **overrides):
        from .students import Student

        overrides.pop("variant", None)
        return Student(variant, width=width, in_ch=in_ch, **overrides)

    return build


for _v in ("a", "b", "c"):
    register_model(f"student_{_v}", kind="student")(_student(_v))


@register_model("student_c_paper", kind="student")
def student_c_paper(width: int = 48, in_ch: int = 3, levels: int = 5, **_ignored):
    """The AT-BSN paper's 1.02 M student C layout (released APR-RD students): see students.PaperStudentC."""
    from .students import PaperStudentC

    return PaperStudentC(width=width, in_ch=in_ch, levels=levels)


def _cpu_student(depthwise):
    def build(width: int = 16, levels: int = 2, unshuffle: int = 2, convs: int = 2, in_ch: int = 3, **_ignored):
        from .students import CPUStudent

        return CPUStudent(width=width, levels=levels or 2, unshuffle=unshuffle, convs=convs, depthwise=depthwise, in_ch=in_ch)

    return build


# Residual UNets sized for CPU frame rates (issue 12): pixel-unshuffled input, additive skips.
register_model("student_cpu", kind="student")(_cpu_student(False))
register_model("student_cpu_dw", kind="student")(_cpu_student(True))


def _load_method_models():
    """Method files (LAN, AMSNet wrapper) register their models on import."""
    from ..methods.registry import load_methods

    load_methods()
