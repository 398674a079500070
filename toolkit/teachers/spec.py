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

The kinds themselves (their syntax, what must exist, how they run) are registered where they run
(kinds.py); this module knows none by name but AT-BSN, whose plain form keeps the paper's loss.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from hushframe.core.errors import HushframeError

from .kinds import kinds_usage, load_kinds, teacher_kind

_WEIGHT = re.compile(r"^\s*([0-9.eE+-]+)\s*\*\s*(.+)$", re.S)


class TeacherSpecError(HushframeError, ValueError):
    """A teacher spec that cannot be used; the message names the spec and what is wrong."""


@dataclass(frozen=True)
class Term:
    kind: str  # a registered kind (kinds.py)
    arg: str  # path, filtergraph, options ("" when none)
    weight: float = 1.0

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind

    @property
    def runs(self) -> bool:
        """A teacher that is run (not a folder of labels read as they are)."""
        return teacher_kind(self.kind).build is not None

    @property
    def on_frames(self) -> bool:
        """Run once per whole photo and cached as labels (slow teachers), not on every crop."""
        return teacher_kind(self.kind).frames(self.arg)

    @property
    def on_crops(self) -> bool:
        """Run on every training crop (network teachers)."""
        return self.runs and not self.on_frames


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


def usage_error(spec: str, why: str) -> TeacherSpecError:
    return TeacherSpecError(f"--teacher {spec!r}: {why}; expected {kinds_usage()}, a .safetensors path, or a weighted "
                            f"sum such as 0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4")


def _split(whole: str) -> list[str]:
    """Split on the '+' that a (weighted) term follows: kinds with a required argument as "NAME:", the
    others as the bare word."""
    names = "|".join(re.escape(k.name) + (r"\b" if not k.arg else ":") for k in load_kinds().values())
    return re.split(rf"\+(?=\s*(?:[0-9.eE+-]+\s*\*\s*)?(?:{names}))", whole)


def _term(text: str, whole: str) -> Term:
    t = text.strip()
    if not t:
        raise usage_error(whole, "empty term")
    name, colon, arg = t.partition(":")
    kind = teacher_kind(name.strip().lower())
    if kind is not None and (colon or not kind.arg):
        arg = arg.strip()
        if kind.arg and not arg:
            raise usage_error(whole, f"'{kind.name}:' needs a {kind.arg}")
        if kind.parse is not None and (arg or kind.arg):
            arg = kind.parse(arg, whole)
        return Term(kind.name, arg)
    # A bare path to our weights file: today's `--teacher teacher.safetensors`.
    if t.endswith(".safetensors") or Path(t).is_file():
        return Term(_kind_of_weights(t, whole), t)
    raise usage_error(whole, f"unknown teacher {t!r}")


def _kind_of_weights(path: str, whole: str) -> str:
    p = Path(path)
    if not p.exists():
        raise TeacherSpecError(f"--teacher {whole!r}: {p}: no such file")
    from ..models import model_kind
    from ..weights import WeightsError, read_header

    try:
        arch = read_header(p).get("arch")
        net = model_kind(arch) if arch else None
    except (WeightsError, KeyError):
        net = None
    for kind in load_kinds().values():
        if net is not None and kind.weights_kind == net:
            return kind.name
    raise TeacherSpecError(f"--teacher {whole!r}: {p}: not a hushframe teacher or student weights file "
                           f"(import published checkpoints with `hushframe import-weights`)")


def parse_spec(spec: str | Path) -> TeacherSpec:
    """Parse and validate a teacher spec (syntax, weights, paths exist); runs nothing."""
    whole = str(spec).strip()
    if not whole:
        raise usage_error(whole, "empty spec")
    parts = _split(whole)
    weighted = [_WEIGHT.match(p) for p in parts]
    if len(parts) == 1 and not weighted[0]:
        terms = [_term(parts[0], whole)]
    else:
        if any(weighted) and not all(weighted):
            raise usage_error(whole, "give a weight to every term of a weighted sum, or to none")
        if all(weighted):
            ws = []
            for m in weighted:
                try:
                    ws.append(float(m.group(1)))
                except ValueError:
                    raise usage_error(whole, f"weight {m.group(1)!r} is not a number") from None
            if any(not math.isfinite(w) or w <= 0 for w in ws):
                raise usage_error(whole, "weights must be positive numbers")
            if abs(sum(ws) - 1.0) > 1e-3:
                raise usage_error(whole, f"weights sum to {sum(ws):g}, they must sum to 1")
            terms = [Term(**{**_term(m.group(2), whole).__dict__, "weight": w}) for m, w in zip(weighted, ws)]
        else:
            terms = [Term(**{**_term(p, whole).__dict__, "weight": 1.0 / len(parts)}) for p in parts]
    for t in terms:
        validate = teacher_kind(t.kind).validate
        if validate is not None:
            validate(t.arg, whole)
    if len({t.spec for t in terms}) != len(terms):
        raise usage_error(whole, "the same teacher appears twice; merge its weights")
    return TeacherSpec(tuple(terms))
