"""Network teachers, run online on every training crop (cheap next to a classical filter).

* ``atbsn:PATH``: the AT-BSN teacher's blind-spot family at the recipe's Ks; inside an
  ensemble its label is the mean over Ks (alone, ``distill_student`` keeps the paper's
  multi-teacher loss unchanged).
* ``student:PATH``: any deployed student (ours or imported with ``import-weights``) as a
  teacher: knowledge distillation into a smaller or faster student.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .kinds import TeacherKind, artifact_teacher, register_teacher_kind
from .spec import TeacherSpecError


class NetworkTeacher:
    spec: str
    model = None

    def to(self, device):
        self.model.to(device)
        return self

    def __call__(self, x):
        raise NotImplementedError

    def label_image(self, img: np.ndarray) -> np.ndarray:
        """A whole image (``hushframe label`` with a network teacher)."""
        import torch

        from hushframe.core.images import to_uint8

        x = torch.from_numpy(img.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            y = self(x)
        return to_uint8(y[0].permute(1, 2, 0).numpy())

    def check(self) -> None:
        pass


def _frozen(model):
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


class ATBSNTeacher(NetworkTeacher):
    def __init__(self, path, blind_spots=(0, 1, 3, 5, 7, 9, 11), device="cpu"):
        from ..weights import load_model

        self.path = str(path)
        self.spec = f"atbsn:{path}"
        self.blind_spots = list(blind_spots)
        self.model = _frozen(load_model(path, device=str(device), expect_kind="teacher"))

    def __call__(self, x):
        import torch

        with torch.no_grad():
            outs = self.model.forward_many(x, self.blind_spots)
            return torch.stack([o.clone() for o in outs]).mean(0)


class StudentTeacher(NetworkTeacher):
    def __init__(self, path, device="cpu"):
        from ..weights import load_model

        self.path = str(path)
        self.spec = f"student:{path}"
        self.model = _frozen(load_model(path, device=str(device), expect_kind="student"))

    def __call__(self, x):
        import torch

        from ..models.padding import run_padded

        with torch.no_grad():
            return run_padded(self.model, x, self.model.size_multiple).clamp_(0, 1)


# ---------------------------------------------------------------- the kinds
ARTIFACT_SUFFIXES = (".onnx", ".xml")   # a deployed student: run through the runtime, once per photo


def _atbsn(term, *, device="cpu", blind_spots=(0, 1, 3, 5, 7, 9, 11), whole_images=False, **_):
    t = ATBSNTeacher(term.arg, blind_spots, device=device)
    if whole_images:  # a whole image: the teacher at its own k_b, not the distillation family
        t.blind_spots = [t.model.default_blind_spot]
    return t


def _student(term, *, device="cpu", **_):
    if not term.on_frames:
        return StudentTeacher(term.arg, device=device)
    factory = artifact_teacher()
    if factory is None:
        raise TeacherSpecError(f"--teacher {term.spec!r}: a deployed artifact runs through hushframe.runtime; "
                               f"call hushframe.toolkit.teachers.use_artifact_teacher(ArtifactTeacher) first "
                               f"(the hushframe command does)")
    return factory(term.arg)


def _file_exists(what):
    def validate(arg: str, whole: str) -> None:
        if not Path(arg).is_file():
            kind = what(arg) if callable(what) else what
            raise TeacherSpecError(f"--teacher {whole!r}: {arg}: no such {kind}")
    return validate


def _artifact(arg: str) -> bool:
    return arg.lower().endswith(ARTIFACT_SUFFIXES)


register_teacher_kind(TeacherKind(
    "atbsn", usage="atbsn:PATH", summary="an AT-BSN teacher file, its blind-spot family", order=10,
    build=_atbsn, validate=_file_exists("weights file"), weights_kind="teacher"))
register_teacher_kind(TeacherKind(
    "student", usage="student:PATH", order=20,
    summary="any student: weights run on every crop; a deployed .onnx/.xml through the runtime, once per photo",
    build=_student, on_frames=_artifact,
    validate=_file_exists(lambda arg: "model artifact" if _artifact(arg) else "weights file"), weights_kind="student"))
