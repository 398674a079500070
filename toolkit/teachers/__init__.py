"""Teachers a student can be distilled from, named by one spec string (see ``spec.py``).

    parse_teacher("0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4")  -> TeacherSpec
    build_teacher(term)                                                  -> a runnable teacher

Frame teachers (``ffmpeg:``, ``bm3d``, a deployed ``student:model.onnx|.xml``) label whole
images once, cached as PNGs (``labels.py``); ``labels:DIR`` reads such labels; network
teachers (``atbsn:``, ``student:weights.safetensors``) run on every training crop. ``distill.py`` trains a student on the
weighted sum of their outputs with an L1 loss.
"""

from __future__ import annotations

from .spec import KINDS, TeacherSpec, TeacherSpecError, Term, parse_spec


def parse_teacher(spec) -> TeacherSpec:
    """Validate a teacher spec (string or path); one clear ``TeacherSpecError`` when it is bad."""
    if isinstance(spec, TeacherSpec):
        return spec
    return parse_spec(spec)


_artifact_teacher = None  # runs deployed artifacts; set by a composition root (the CLI), see below


def use_artifact_teacher(factory) -> None:
    """How ``student:model.onnx|.xml`` terms run: ``factory(path)`` -> an object with ``spec``,
    ``check()`` and ``label_image(uint8 HxWx3)``. The toolkit may not import the runtime, so the
    layer above it passes ``hushframe.runtime.teacher.ArtifactTeacher`` in (toolkit/cli/main.py)."""
    global _artifact_teacher
    _artifact_teacher = factory


def build_teacher(term: Term, *, device="cpu", blind_spots=(0, 1, 3, 5, 7, 9, 11)):
    """The runnable teacher of one term (``labels`` terms are read, not run: see ``labels.load_labels``)."""
    if term.kind == "ffmpeg":
        from .frame import FFmpegTeacher

        return FFmpegTeacher(term.arg)
    if term.kind == "bm3d":
        from .frame import BM3DTeacher

        return BM3DTeacher(term.arg)
    if term.kind == "atbsn":
        from .network import ATBSNTeacher

        return ATBSNTeacher(term.arg, blind_spots, device=device)
    if term.kind == "student" and term.on_frames:
        if _artifact_teacher is None:
            raise TeacherSpecError(f"--teacher {term.spec!r}: a deployed artifact runs through hushframe.runtime; "
                                   f"call hushframe.toolkit.teachers.use_artifact_teacher(ArtifactTeacher) first "
                                   f"(the hushframe command does)")
        return _artifact_teacher(term.arg)
    if term.kind == "student":
        from .network import StudentTeacher

        return StudentTeacher(term.arg, device=device)
    raise TeacherSpecError(f"--teacher {term.spec!r}: a labels folder is read, not run")


__all__ = ["KINDS", "TeacherSpec", "TeacherSpecError", "Term", "build_teacher", "parse_teacher", "use_artifact_teacher"]
