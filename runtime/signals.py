"""SIGTERM as a second Ctrl-C for streaming runs.

Services stop a process with SIGTERM (``docker stop``, systemd). Python's default is to die at
once, which leaves a plain .mp4 without its index: unplayable. While a stream runs, SIGTERM raises
KeyboardInterrupt in the main thread instead, so it takes the Ctrl-C path (stop reading, drain,
finalize the container) and the command exits 143.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


class _Received:
    received = False


@contextmanager
def stop_on_sigterm():
    """Within the block, SIGTERM raises KeyboardInterrupt; ``.received`` says whether it came.
    Outside the main thread (signal handlers cannot be set there) the block runs unchanged."""
    state = _Received()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def handler(signum, frame):
        state.received = True
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield state
    finally:
        signal.signal(signal.SIGTERM, previous)
