"""Teacher kinds, each registered once, in the file that runs it, with everything a spec needs.

    register_teacher_kind(TeacherKind(
        "ffmpeg", usage="ffmpeg:FILTERGRAPH", summary="libavfilter through PyAV on gbrp frames",
        arg="filtergraph", on_frames=True, parse=_filter_name_ok, build=lambda term, **kw: FFmpegTeacher(term.arg)))

The spec grammar and its error message (spec.py), ``build_teacher``, the distillation's split
into frame teachers (labelled once, cached) and crop teachers (run every step), ``hushframe
label`` and the CLI's ``--teacher`` help all read this registry: a new kind is one registration
in one module of this package (``load_kinds`` imports each, as methods/registry.py does for methods).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from typing import Callable

# modules of this package that register no kind
_NOT_KINDS = {"kinds", "spec", "distill"}


@dataclass(frozen=True)
class TeacherKind:
    name: str                                  # before the colon: "ffmpeg"
    usage: str                                 # how a term is written: "ffmpeg:FILTERGRAPH", "bm3d[:sigma=S]"
    summary: str                               # one line for help texts
    # (term, *, device, blind_spots, whole_images) -> a teacher; None: read, not run (a labels folder)
    build: Callable | None = None
    arg: str = "path"                          # what follows "NAME:" (for "needs a ..."); "" : optional
    on_frames: bool | Callable[[str], bool] = False   # run once per whole photo and cached as labels
    parse: Callable[[str, str], str] | None = None    # (arg, whole spec) -> arg; TeacherSpecError on bad syntax
    validate: Callable[[str, str], None] | None = None  # (arg, whole spec): what must exist (files, folders)
    weights_kind: str | None = None            # a bare .safetensors whose network is of this kind is this kind
    order: int = 50                            # place in usage lists

    def frames(self, arg: str) -> bool:
        return self.on_frames(arg) if callable(self.on_frames) else bool(self.on_frames)


_KINDS: dict[str, TeacherKind] = {}
_loaded = False


def register_teacher_kind(kind: TeacherKind) -> TeacherKind:
    _KINDS[kind.name] = kind
    return kind


def load_kinds() -> dict[str, TeacherKind]:
    """Every kind of this package (each module registers its own), in usage order; name -> TeacherKind."""
    global _loaded
    if not _loaded:
        pkg = importlib.import_module(__package__)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name not in _NOT_KINDS:
                importlib.import_module(f"{__package__}.{info.name}")
        _loaded = True
    return dict(sorted(_KINDS.items(), key=lambda kv: (kv[1].order, kv[0])))


def teacher_kind(name: str) -> TeacherKind | None:
    return load_kinds().get(name)


def kinds_usage() -> str:
    """"atbsn:PATH, student:PATH, ffmpeg:FILTERGRAPH, ..." for help texts and errors."""
    return ", ".join(k.usage for k in load_kinds().values())


def kinds_help() -> str:
    """One line per kind: its usage and what it is (the --teacher help of the CLI)."""
    return "; ".join(f"{k.usage} ({k.summary})" for k in load_kinds().values())


# ---------------------------------------------------------------- deployed artifacts as teachers
_artifact_teacher = None  # runs deployed artifacts; set by a composition root (the CLI), see below


def use_artifact_teacher(factory) -> None:
    """How ``student:model.onnx|.xml`` terms run: ``factory(path)`` -> an object with ``spec``,
    ``check()`` and ``label_image(uint8 HxWx3)``. The toolkit may not import the runtime, so the
    layer above it passes ``hushframe.runtime.teacher.ArtifactTeacher`` in (toolkit/cli/main.py)."""
    global _artifact_teacher
    _artifact_teacher = factory


def artifact_teacher():
    return _artifact_teacher
