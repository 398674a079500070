"""The one base of every error meant for the user as it is.

Its message names the file (or URL, or option) and the problem on one line; the CLI prints
``hushframe: error: <message>`` and exits with ``exit_code`` (2 unless a subclass says
otherwise). Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations


class HushframeError(Exception):
    """Base for errors whose message is meant for the user as it is."""

    exit_code = 2


class OutputPathError(HushframeError, ValueError):
    """The output path cannot be written (missing folder, not a file, exists without --overwrite, ...)."""


class ManifestError(HushframeError, ValueError):
    """A manifest beside an artifact is missing, unreadable or malformed."""


class ContractError(HushframeError, ValueError):
    """An artifact, size or setting breaks the artifact contract (core/contract.py)."""


class EngineMismatchError(ContractError):
    """A TensorRT engine was built for another TensorRT version or GPU, or does not match its manifest."""
