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


@register_model("lan", kind="helper")
def lan(width: int = 64, receptive: int = 3, blocks: int = 4, in_ch: int = 3, **_ignored):
    """BNN-LAN's locally aware network (methods/bnn_lan.py trains it)."""
    from .lan import LAN

    return LAN(width=width, receptive=receptive, blocks=blocks, in_ch=in_ch)


@register_model("amsnet", kind="denoiser")
def amsnet(denoiser: str = "student_c", width: int = 48, levels: int = 5, in_ch: int = 3, infer_stride: int = 2,
           branches: int = 2, **denoiser_overrides):
    """AMSNet's multi-mask denoiser around D_E = the registered network ``denoiser`` (methods/amsnet.py trains it)."""
    from .amsnet import AMSNet

    config = dict(denoiser=denoiser, width=width, levels=levels, in_ch=in_ch, **denoiser_overrides)
    net = create_model(denoiser, width=width, levels=levels, in_ch=in_ch, **denoiser_overrides)
    return AMSNet(net, infer_stride=infer_stride, branches=branches, config=config)


@register_model("temporal_cpu", kind="temporal")
def temporal_cpu(width: int = 16, levels: int = 2, unshuffle: int = 2, convs: int = 1, gate_width: int = 16,
                 n_max: float = 32.0, in_ch: int = 3, noise_model: str = "linear", **_ignored):
    """A recurrent video student: gated running mean along motion + a CPU student refining it (models/temporal.py)."""
    from .temporal import TemporalStudent

    return TemporalStudent(width=width, levels=levels, unshuffle=unshuffle, convs=convs, gate_width=gate_width,
                           n_max=n_max, in_ch=in_ch, noise_model=noise_model)


@register_model("temporal_atbsn", kind="temporal-teacher")
def temporal_atbsn(width: int = 16, levels: int = 3, blind_spot: int = 3, neighbours: int = 4, context_width: int = 24,
                   unshuffle: int = 2, edge: str = "replicate", **_ignored):
    """AT-BSN across time: blind in the current frame, seeing aligned neighbours (models/temporal_teacher.py)."""
    from .temporal_teacher import TemporalATBSN

    return TemporalATBSN(width=width, levels=levels, blind_spot=blind_spot, neighbours=neighbours,
                         context_width=context_width, unshuffle=unshuffle, edge=edge)
