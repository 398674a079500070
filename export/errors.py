"""User-facing errors of the export package (one line, exit 2 through the CLI's guard)."""

from __future__ import annotations

from hushframe.core.errors import EngineMismatchError, HushframeError

__all__ = ["ExportError", "CalibrationError", "EngineMismatchError"]


class ExportError(HushframeError):
    """Bad input to export/quantize/compile: the message names the file and the problem."""


class CalibrationError(ExportError):
    """The calibration set is missing, empty or too small."""
