"""Progress of the long export steps (``quantize``: minutes on a CPU), reported without new parameters.

The quantizer's stages run deep inside helper functions; threading a callback through each of them
would change every signature. Instead the caller installs one callback for a block of work
(``reporting``) and the code marks stages (``stage``) and steps (``advance``), which cost nothing
when nobody listens. The callback gets ``(stage name, steps done, steps in the stage or None)``.

    with reporting(lambda name, done, total: print(name, done, total)):
        quantize(...)
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

_listener: ContextVar = ContextVar("hushframe_export_progress", default=None)
_stage: ContextVar = ContextVar("hushframe_export_stage", default=None)


@contextmanager
def reporting(callback):
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


@contextmanager
def stage(name: str, total: int | None = None):
    """A named stage of ``total`` steps (None: unknown); reported at its start."""
    cb = _listener.get()
    state = [name, 0, total]
    token = _stage.set(state)
    try:
        if cb is not None:
            cb(name, 0, total)
        yield
    finally:
        _stage.reset(token)


def advance(n: int = 1) -> None:
    """``n`` more steps of the current stage done."""
    cb, state = _listener.get(), _stage.get()
    if cb is not None and state is not None:
        state[1] += n
        cb(state[0], state[1], state[2])
