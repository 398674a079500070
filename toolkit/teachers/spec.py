"""Teacher specs: one string names what a student is distilled from.

Grammar (whitespace around ``+`` and ``*`` is ignored)::

    SPEC     := TERM | WEIGHT "*" TERM ( "+" WEIGHT "*" TERM )+ | TERM ( "+" TERM )+
    TERM     := "atbsn:" PATH          AT-BSN teacher file, its blind-spot family (today's distillation)
              | "student:" PATH        any student as a teacher: weights (.safetensors, hushframe or imported)
                                       run on every crop; a deployed .onnx/.xml runs through the runtime
                                       once per photo, cached like a filter
              | "ffmpeg:" FILTERGRAPH  libavfilter through PyAV on gbrp frames, e.g. ffmpeg:nlmeans=s=3
              | "bm3d" [":sigma=S"]    BM3D (the optional ``bm3d`` package); S in 0-255 units, else estimated
              | "labels:" DIR          pseudo-labels written by ``hushframe label`` (or a run's labels/ cache)
              | PATH                   a .safetensors file: atbsn if it holds a teacher, student if a student

Weights are positive and sum to 1 (to 1e-3); without weights the terms are averaged.
``0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4`` mixes two FFmpeg filters' outputs.
A ``+`` only separates terms when a term (optionally weighted) follows it, so filter
options may still contain ``+`` (``ffmpeg:scale=flags=+accurate_rnd`` is one term).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from hushframe.core.errors import HushframeError

KINDS = ("atbsn", "student", "ffmpeg", "bm3d", "labels")
_SPLIT = re.compile(r"\+(?=\s*(?:[0-9.eE+-]+\s*\*\s*)?(?:atbsn:|student:|ffmpeg:|labels:|bm3d\b))")
_WEIGHT = re.compile(r"^\s*([0-9.eE+-]+)\s*\*\s*(.+)$", re.S)


class TeacherSpecError(HushframeError, ValueError):
    """A teacher spec that cannot be used; the message names the spec and what is wrong."""


@dataclass(frozen=True)
class Term:
    kind: str  # one of KINDS
    arg: str  # path, filtergraph, options ("" when none)
    weight: float = 1.0

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def on_frames(self) -> bool:
        """Run once per whole photo and cached as labels (slow teachers), not on every crop."""
        return self.kind in ("ffmpeg", "bm3d") or (self.kind == "student" and self.arg.lower().endswith((".onnx", ".xml")))


@dataclass(frozen=True)
class TeacherSpec:
    terms: tuple[Term, ...]

    @property
    def text(self) -> str:
        """Canonical form, recorded in manifests and used to key label caches."""
        if len(self.terms) == 1:
            return self.terms[0].spec
        return "+".join(f"{t.weight:g}*{t.spec}" for t in self.terms)

    @property
    def plain_atbsn(self) -> bool:
        """One AT-BSN teacher file alone: today's multi-teacher distillation, unchanged."""
        return len(self.terms) == 1 and self.terms[0].kind == "atbsn"


def _usage(spec: str, why: str) -> TeacherSpecError:
    return TeacherSpecError(
        f"--teacher {spec!r}: {why}; expected atbsn:PATH, student:PATH, ffmpeg:FILTERGRAPH, bm3d[:sigma=S], labels:DIR, "
        f"a .safetensors path, or a weighted sum such as 0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4")


def _term(text: str, whole: str) -> Term:
    t = text.strip()
    if not t:
        raise _usage(whole, "empty term")
    kind, colon, arg = t.partition(":")
    kind = kind.strip().lower()
    if kind == "bm3d":
        arg = arg.strip()
        if arg:
            k, eq, v = arg.partition("=")
            try:
                ok = k.strip() == "sigma" and eq and float(v) > 0 and math.isfinite(float(v))
            except ValueError:
                ok = False
            if not ok:
                raise _usage(whole, f"bm3d takes only sigma=S with S > 0 (0-255 units), got {arg!r}")
        return Term("bm3d", arg)
    if colon and kind in KINDS:
        arg = arg.strip()
        if not arg:
            raise _usage(whole, f"'{kind}:' needs a {'filtergraph' if kind == 'ffmpeg' else 'path'}")
        if kind == "ffmpeg":
            name = re.split(r"[=:,;\[]", arg, maxsplit=1)[0]
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise _usage(whole, f"{arg!r} does not start with a filter name")
        return Term(kind, arg)
    # A bare path to our weights file: today's `--teacher teacher.safetensors`.
    if t.endswith(".safetensors") or Path(t).is_file():
        return Term(_kind_of_weights(t, whole), t)
    raise _usage(whole, f"unknown teacher {t!r}")


def _kind_of_weights(path: str, whole: str) -> str:
    p = Path(path)
    if not p.exists():
        raise TeacherSpecError(f"--teacher {whole!r}: {p}: no such file")
    from ..models import model_kind
    from ..weights import WeightsError, read_header

    try:
        arch = read_header(p).get("arch")
        kind = model_kind(arch) if arch else None
    except (WeightsError, KeyError):
        kind = None
    if kind == "teacher":
        return "atbsn"
    if kind == "student":
        return "student"
    raise TeacherSpecError(f"--teacher {whole!r}: {p}: not a hushframe teacher or student weights file "
                           f"(import published checkpoints with `hushframe import-weights`)")


def parse_spec(spec: str | Path) -> TeacherSpec:
    """Parse and validate a teacher spec (syntax, weights, paths exist); runs nothing."""
    whole = str(spec).strip()
    if not whole:
        raise _usage(whole, "empty spec")
    parts = _SPLIT.split(whole)
    weighted = [_WEIGHT.match(p) for p in parts]
    if len(parts) == 1 and not weighted[0]:
        terms = [_term(parts[0], whole)]
    else:
        if any(weighted) and not all(weighted):
            raise _usage(whole, "give a weight to every term of a weighted sum, or to none")
        if all(weighted):
            ws = []
            for m in weighted:
                try:
                    ws.append(float(m.group(1)))
                except ValueError:
                    raise _usage(whole, f"weight {m.group(1)!r} is not a number") from None
            if any(not math.isfinite(w) or w <= 0 for w in ws):
                raise _usage(whole, "weights must be positive numbers")
            if abs(sum(ws) - 1.0) > 1e-3:
                raise _usage(whole, f"weights sum to {sum(ws):g}, they must sum to 1")
            terms = [Term(**{**_term(m.group(2), whole).__dict__, "weight": w}) for m, w in zip(weighted, ws)]
        else:
            terms = [Term(**{**_term(p, whole).__dict__, "weight": 1.0 / len(parts)}) for p in parts]
    for t in terms:
        if t.kind in ("atbsn", "student") and not Path(t.arg).is_file():
            what = "model artifact" if t.on_frames else "weights file"
            raise TeacherSpecError(f"--teacher {whole!r}: {t.arg}: no such {what}")
        if t.kind == "labels" and not Path(t.arg).is_dir():
            raise TeacherSpecError(f"--teacher {whole!r}: {t.arg}: no such labels folder (write one with `hushframe label`)")
    if len({t.spec for t in terms}) != len(terms):
        raise _usage(whole, "the same teacher appears twice; merge its weights")
    return TeacherSpec(tuple(terms))
