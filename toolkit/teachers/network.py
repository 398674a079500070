"""Network teachers, run online on every training crop (cheap next to a classical filter).

* ``atbsn:PATH``: the AT-BSN teacher's blind-spot family at the recipe's Ks; inside an
  ensemble its label is the mean over Ks (alone, ``distill_student`` keeps the paper's
  multi-teacher loss unchanged).
* ``student:PATH``: any deployed student (ours or imported with ``import-weights``) as a
  teacher: knowledge distillation into a smaller or faster student.
"""

from __future__ import annotations

import numpy as np


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
