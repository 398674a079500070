"""User errors become one line on stderr and a non-zero exit, never a traceback.

Any exception class named in ``USER_ERRORS`` (ours, plus the usual I/O ones) is a user
error: its message already names the file and the problem. Anything else is a bug and
keeps its traceback. Set HUSHFRAME_DEBUG=1 to see tracebacks for user errors too.
"""

from __future__ import annotations

import os
import sys

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130


class HushframeError(Exception):
    """Base for errors whose message is meant for the user as it is."""


def _user_error_types() -> tuple[type, ...]:
    types: list[type] = [HushframeError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError]
    # Import lazily and only the light modules that define our error types.
    from ..atomic import OutputPathError
    from ..data.images import ImageError
    from ..manifest import ManifestError

    types += [OutputPathError, ImageError, ManifestError]
    for mod, names in (
        ("hushframe.toolkit.weights", ("WeightsError",)),
        ("hushframe.toolkit.data.pairs", ("PairError",)),
        ("hushframe.toolkit.data.datasets", ("DataError",)),
        ("hushframe.toolkit.recipes", ("RecipeError",)),
    ):
        try:
            m = __import__(mod, fromlist=list(names))
            types += [getattr(m, n) for n in names if hasattr(m, n)]
        except ImportError:
            pass
    for t in USER_ERRORS_EXTRA:
        types.append(t)
    return tuple(types)


USER_ERRORS_EXTRA: list[type] = []


def register_user_error(t: type) -> type:
    """Decorator for error classes defined in export/ and runtime/."""
    USER_ERRORS_EXTRA.append(t)
    return t


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
        if isinstance(e, _user_error_types()) and not os.environ.get("HUSHFRAME_DEBUG"):
            msg = str(e).splitlines()[0] if str(e) else e.__class__.__name__
            if isinstance(e, OSError) and e.filename and str(e.filename) not in msg:
                msg = f"{e.filename}: {e.strerror or msg}"
            print(f"hushframe: error: {msg}", file=sys.stderr)
            return getattr(e, "exit_code", EXIT_USER_ERROR)
        raise
