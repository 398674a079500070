"""Which int8 instructions this x86 CPU has, and whether an INT8 artifact was made for them.

Why it matters: without VNNI (AVX2-only CPUs such as most AMD EPYC before Zen 4), int8
convolutions multiply u8 x s8 pairs with ``vpmaddubsw``, which adds two products into a
*saturating 16-bit* sum: 2 x 255 x 127 = 64770 does not fit in 32767, so large activations
times large 8-bit weights clip silently. Weights limited to 7 bits (|q| <= 63) make every pair
fit (2 x 255 x 63 = 32130). VNNI (``vpdpbusd``, AVX-512 VNNI or AVX-VNNI) and AMX accumulate
in 32 bits, and GPUs (TensorRT) do too, so full 8-bit weights are exact there.

Torch-free and engine-free: reads /proc/cpuinfo only.
"""

from __future__ import annotations

import functools
import platform
import warnings
from pathlib import Path

INT8_DOT_FLAGS = ("avx512_vnni", "avx_vnni", "amx_int8")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
REPORTED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16")
CPU_KINDS = ("avx2", "vnni", "amx")  # the CPU INT8 targets of `hushframe quantize --target`, slowest int8 first

# INT8 targets of `hushframe quantize --target`: which CPUs/GPUs run an artifact made for each exactly.
TARGET_RUNS_ON = {
    "avx2": "every x86 CPU (AVX2, AVX-512 VNNI, AMX) and GPUs",
    "vnni": "CPUs with AVX-512 VNNI, AVX-VNNI or AMX, and GPUs",
    "amx": "CPUs with AVX-512 VNNI, AVX-VNNI or AMX (fastest with AMX), and GPUs",
    "gpu": "GPUs (TensorRT) and CPUs with AVX-512 VNNI, AVX-VNNI or AMX",
}


class Int8TargetWarning(UserWarning):
    """An INT8 artifact runs on a CPU it was not made for (results may be off)."""


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where that file does not exist)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def cpu_int8_kind(flags=None) -> str:
    """'vnni' (32-bit int8 dot products: VNNI or AMX), 'avx2' (16-bit saturating pairs), or 'unknown'."""
    flags = cpu_flags() if flags is None else flags
    if any(f in flags for f in INT8_DOT_FLAGS):
        return "vnni"
    if "avx2" in flags:
        return "avx2"
    return "unknown"


def cpu_kind(flags=None) -> str:
    """The INT8 recipe kind of this CPU: 'amx' (AMX int8 tiles), 'vnni' (AVX-512 VNNI or AVX-VNNI, no
    AMX), 'avx2' (AVX2 without VNNI), or 'unknown' (no AVX2, or not x86: no /proc/cpuinfo flags)."""
    flags = cpu_flags() if flags is None else flags
    if "amx_int8" in flags:
        return "amx"
    if any(f in flags for f in INT8_DOT_FLAGS):
        return "vnni"
    if "avx2" in flags:
        return "avx2"
    return "unknown"


def has_bf16(flags=None) -> bool:
    """Native bf16 arithmetic (AVX512-BF16 or AMX-BF16): where OpenVINO can run float layers in bf16."""
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in BF16_FLAGS)


def auto_int8_target(flags=None) -> tuple[str, str]:
    """(target, why) for `hushframe quantize --target auto`: the recipe that pays on this CPU.

    An AVX2-only CPU, or one whose kind is unknown, gets ``avx2`` (7-bit weights: exact on every CPU,
    the recipe of every artifact made before targets were chosen per CPU). A VNNI or AMX CPU gets its
    own recipe, which runs exactly on CPUs with 32-bit int8 sums only (the runtime warns elsewhere)."""
    flags = cpu_flags() if flags is None else flags
    kind = cpu_kind(flags)
    have = " ".join(f for f in REPORTED_FLAGS if f in flags) or "no x86 flags"
    if kind in ("amx", "vnni"):
        return kind, f"--target auto on an {kind.upper()} CPU ({have}): the {kind} recipe"
    return "avx2", (f"--target auto on an {'AVX2-only' if kind == 'avx2' else 'unknown-kind'} CPU ({have}): "
                    "the avx2 recipe (7-bit weights, exact on every CPU)")


def describe_cpu(flags=None) -> str:
    """One line for logs and test headers, e.g. 'x86_64: avx2 (no VNNI/AMX) -> int8 kind avx2'."""
    flags = cpu_flags() if flags is None else flags
    have = [f for f in REPORTED_FLAGS if f in flags]
    kind = cpu_int8_kind(flags)
    note = "" if kind == "vnni" else " (no VNNI/AMX)"
    return f"{platform.machine()}: {' '.join(have) or 'no AVX2'}{note} -> int8 kind {kind}, recipe kind {cpu_kind(flags)}"


def int8_target_problem(target: str | None, flags=None) -> str | None:
    """Why an INT8 artifact made for ``target`` may be inexact on this CPU, or None when it is fine.

    ``target`` None: an INT8 artifact made before targets were recorded (8-bit weights).
    """
    kind = cpu_int8_kind(flags)
    if target == "avx2" or kind in ("vnni", "unknown"):
        return None
    if target == "nncf-temporal":
        # a temporal model has one INT8 recipe (export/quantize_temporal.py, 8-bit weights): `--target avx2`
        # would make the same graph, so the advice is to measure it, not to re-quantize
        return (f"made for --target {target} (8-bit weights: temporal models have no 7-bit recipe yet), and this CPU "
                f"has no VNNI/AMX ({describe_cpu(flags)}): its 16-bit int8 sums can saturate; measure it here with "
                f"`hushframe parity --video CLIP -r STUDENT.safetensors`")
    made = f"made for --target {target}" if target else "made without an INT8 target (8-bit weights)"
    return (f"{made}, but this CPU has no VNNI/AMX ({describe_cpu(flags)}): its 16-bit int8 sums can saturate; "
            f"re-quantize with `hushframe quantize --target avx2` (runs exactly on every CPU)")


def warn_if_off_target(artifact_name: str, target: str | None, flags=None) -> str | None:
    """Emit an :class:`Int8TargetWarning` when the INT8 artifact was not made for this CPU; return its text."""
    problem = int8_target_problem(target, flags)
    if problem:
        # One line on stderr ("hushframe:0: Int8TargetWarning: ..."), no source line; filterable as usual.
        warnings.warn_explicit(f"{artifact_name}: INT8 {problem}", Int8TargetWarning, "hushframe", 0,
                               module="hushframe.runtime.cpu_isa")
    return problem
