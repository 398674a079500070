"""Teachers a student can be distilled from, named by one spec string (see ``spec.py``).

    parse_teacher("0.6*ffmpeg:nlmeans=s=3+0.4*ffmpeg:dctdnoiz=sigma=4")  -> TeacherSpec
    build_teacher(term)                                                  -> a runnable teacher

Each kind registers itself where it runs (``kinds.py``): frame teachers (``ffmpeg:``, ``bm3d``,
a deployed ``student:model.onnx|.xml``: frame.py, network.py) label whole images once, cached as
PNGs (``labels.py``); ``labels:DIR`` reads such labels; network teachers (``atbsn:``,
``student:weights.safetensors``: network.py) run on every training crop. ``distill.py`` trains a
student on the weighted sum of their outputs with an L1 loss.
"""

from __future__ import annotations

from .kinds import TeacherKind, kinds_help, kinds_usage, load_kinds, register_teacher_kind, use_artifact_teacher
from .spec import TeacherSpec, TeacherSpecError, Term, parse_spec


def parse_teacher(spec) -> TeacherSpec:
    """Validate a teacher spec (string or path); one clear ``TeacherSpecError`` when it is bad."""
    if isinstance(spec, TeacherSpec):
        return spec
    return parse_spec(spec)


def build_teacher(term: Term, *, device="cpu", blind_spots=(0, 1, 3, 5, 7, 9, 11), whole_images: bool = False):
    """The runnable teacher of one term (``labels`` terms are read, not run: see ``labels.load_labels``).
    ``whole_images``: it labels whole photos (``hushframe label``), not the distillation's crops."""
    kind = load_kinds()[term.kind]
    if kind.build is None:
        raise TeacherSpecError(f"--teacher {term.spec!r}: a {kind.name} term is read, not run")
    return kind.build(term, device=device, blind_spots=blind_spots, whole_images=whole_images)


__all__ = ["TeacherKind", "TeacherSpec", "TeacherSpecError", "Term", "build_teacher", "kinds_help", "kinds_usage",
           "load_kinds", "parse_teacher", "register_teacher_kind", "use_artifact_teacher"]
