"""User errors become one line on stderr and a non-zero exit, never a traceback.

A user error is a :class:`hushframe.core.errors.HushframeError` (every package's errors derive
from it: its message already names the file and the problem) or one of the usual I/O errors.
Anything else is a bug and keeps its traceback. Set HUSHFRAME_DEBUG=1 to see tracebacks for
user errors too.
"""

from __future__ import annotations

import os
import sys

from hushframe.core.errors import HushframeError

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
USER_ERRORS: tuple[type, ...] = (HushframeError, FileNotFoundError, PermissionError, IsADirectoryError,
                                 NotADirectoryError)


def run_guarded(app, argv) -> int:
    try:
        # With standalone_mode=False click returns the code of typer.Exit(n) instead of exiting.
        rv = app(args=list(argv), standalone_mode=False, prog_name="hushframe")
        return rv if isinstance(rv, int) else 0
    except SystemExit as e:  # typer/click exits (help, usage errors)
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    except KeyboardInterrupt:
        print("hushframe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as e:
        # Typer may vendor its own click (typer._click): match click's exception types by name.
        names = {c.__name__ for c in type(e).__mro__}
        if "Exit" in names and hasattr(e, "exit_code"):
            return e.exit_code
        if "NoArgsIsHelpError" in names:
            e.show() if hasattr(e, "show") else None
            return 0
        if "ClickException" in names and hasattr(e, "show"):
            e.show()
            return e.exit_code
        if "Abort" in names:
            print("hushframe: aborted", file=sys.stderr)
            return EXIT_INTERRUPTED
        if isinstance(e, USER_ERRORS) and not os.environ.get("HUSHFRAME_DEBUG"):
            msg = str(e).splitlines()[0] if str(e) else e.__class__.__name__
            if isinstance(e, OSError) and e.filename and str(e.filename) not in msg:
                msg = f"{e.filename}: {e.strerror or msg}"
            print(f"hushframe: error: {msg}", file=sys.stderr)
            return getattr(e, "exit_code", EXIT_USER_ERROR)
        raise
