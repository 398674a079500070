"""A deployed student artifact as a pseudo-label teacher (``--teacher student:model.onnx|.xml``).

It runs through the runtime exactly as in production (backend, padding, tiling), once per
whole photo, and its outputs are cached as labels like an FFmpeg filter's: a 1 M-parameter
student costs seconds per photo on a CPU, too slow to run on every training crop. The toolkit
cannot import the runtime (the floors), so the composition roots hand this class to
``hushframe.toolkit.teachers.use_artifact_teacher`` (the CLI does; so does benchmarks/frontier.py).
"""

from __future__ import annotations

import numpy as np

from .errors import ArtifactError, RuntimeUserError


class ArtifactTeacher:
    """uint8 HxWx3 RGB -> uint8 HxWx3 RGB through an opened backend (duck-types the toolkit's FrameTeacher)."""

    # Photos run in tiles of at most one 1080p frame (overlapping, blended: tiling.py): a 9 MP
    # photo through student C in one piece needed over 22 GB here.
    tile = (1088, 1920)

    def __init__(self, path: str):
        self.path = str(path)
        self.spec = f"student:{path}"
        self._backend = None

    def _open(self):
        if self._backend is None:
            from .backends.base import open_backend

            try:
                self._backend = open_backend(self.path, max_hw=self.tile)
            except (RuntimeUserError, OSError) as e:
                msg = str(e).splitlines()[0][:200] if str(e) else e.__class__.__name__
                raise ArtifactError(f"--teacher {self.spec!r}: {msg}") from None
        return self._backend

    def check(self) -> None:
        """Fail early, in one line, when the artifact cannot run here."""
        self.label_image(np.full((24, 40, 3), 128, np.uint8))

    def label_image(self, img: np.ndarray) -> np.ndarray:
        from .frames import denoise_image

        return denoise_image(self._open(), img)
