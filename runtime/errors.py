"""Errors of the runtime that are meant for the user: one line, the file or URL, the problem.

Registered with the CLI's ``register_user_error`` so ``hushframe stream`` prints
``hushframe: error: ...`` and exits non-zero instead of a traceback.
"""

from __future__ import annotations

from hushframe.toolkit.cli.errors import register_user_error


@register_user_error
class RuntimeUserError(Exception):
    """Base of the runtime's user-facing errors."""

    exit_code = 2


@register_user_error
class ArtifactError(RuntimeUserError):
    """The model artifact cannot be used (missing, unknown format, no backend for it)."""


@register_user_error
class BackendUnavailable(RuntimeUserError):
    """The requested backend is not installed or has no usable device."""


@register_user_error
class ShapeError(RuntimeUserError):
    """A frame the engine cannot take and that tiling cannot fix."""


@register_user_error
class SourceError(RuntimeUserError):
    """The input cannot be opened or read."""


@register_user_error
class SourceLost(SourceError):
    """A live source disappeared and did not come back within the retries."""

    exit_code = 3


@register_user_error
class SinkError(RuntimeUserError):
    """The output cannot be written (permission, disk full, unsupported container)."""

    exit_code = 4
