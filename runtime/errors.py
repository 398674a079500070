"""Errors of the runtime that are meant for the user: one line, the file or URL, the problem.

All derive from :class:`hushframe.core.errors.HushframeError`, so ``hushframe stream`` prints
``hushframe: error: ...`` and exits with the class's ``exit_code`` instead of a traceback.
"""

from __future__ import annotations

from hushframe.core.errors import HushframeError


class RuntimeUserError(HushframeError):
    """Base of the runtime's user-facing errors."""

    exit_code = 2


class ArtifactError(RuntimeUserError):
    """The model artifact cannot be used (missing, unknown format, no backend for it)."""


class BackendUnavailable(RuntimeUserError):
    """The requested backend is not installed or has no usable device."""


class ShapeError(RuntimeUserError):
    """A frame the engine cannot take and that tiling cannot fix."""


class SourceError(RuntimeUserError):
    """The input cannot be opened or read."""


class SourceLost(SourceError):
    """A live source disappeared and did not come back within the retries."""

    exit_code = 3


class SinkError(RuntimeUserError):
    """The output cannot be written (permission, disk full, unsupported container)."""

    exit_code = 4
