"""User-facing errors of the export package (one line, exit 2 through the shared CLI guard)."""

from __future__ import annotations

from hushframe.toolkit.cli.errors import HushframeError, register_user_error


@register_user_error
class ExportError(HushframeError):
    """Bad input to export/quantize/compile: the message names the file and the problem."""


@register_user_error
class CalibrationError(ExportError):
    """The calibration set is missing, empty or too small."""


@register_user_error
class EngineMismatchError(ExportError):
    """A TensorRT engine was built for another TensorRT version or GPU."""
