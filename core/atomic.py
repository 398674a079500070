"""Atomic file writes: write a temp file beside the target, fsync, rename.

A killed process leaves either the old file or the new one, never half of one.
Temp names start with '.' and end in '.tmp' so a crash leaves only an obvious stray.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .errors import OutputPathError


def check_output_path(path: str | os.PathLike) -> Path:
    """One-line errors for the common mistakes, before any work is done."""
    p = Path(path)
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputPathError(f"{p}: output folder {parent} does not exist")
    if not parent.is_dir():
        raise OutputPathError(f"{p}: {parent} is not a folder")
    if p.exists() and p.is_dir():
        raise OutputPathError(f"{p}: is a folder, expected a file path")
    if not os.access(parent, os.W_OK):
        raise OutputPathError(f"{p}: output folder {parent} is not writable")
    return p


def check_new_output(path: str | os.PathLike, overwrite: bool = False, *, folder: bool = False) -> Path:
    """Before any work: the output can be written, and an existing one is replaced only with ``overwrite``.

    ``folder=True``: an image folder; an existing non-empty folder counts as an existing output.
    """
    p = Path(path)
    if folder:   # created with its parents when written
        if p.exists() and not p.is_dir():
            raise OutputPathError(f"{p}: exists and is not a folder")
        if p.is_dir() and any(p.iterdir()) and not overwrite:
            raise OutputPathError(f"{p}: output folder exists and is not empty (use --overwrite / -y to write "
                                  f"into it)")
        return p
    p = check_output_path(p)
    if (p.exists() or p.is_symlink()) and not overwrite:
        raise OutputPathError(f"{p}: exists (use --overwrite / -y to replace it)")
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None):
    """Yield a temp path in the target folder; rename it onto ``path`` on success.

    The rename replaces a symlink at ``path`` rather than writing through it, so a
    planted link cannot redirect our output outside the output folder.
    """
    p = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix or ".tmp", dir=p.parent or ".")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        # mkstemp creates 0600; give the result the permissions a plain open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, p)
        _fsync_dir(p.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _fsync_dir(d: Path):
    with contextlib.suppress(OSError):
        fd = os.open(d or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_bytes_atomic(path, data: bytes):
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path, text: str):
    write_bytes_atomic(path, text.encode())


def write_json_atomic(path, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n")
