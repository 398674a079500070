"""Runtime CLI commands (stream, parity, bench)."""
from hushframe.toolkit.cli.main import app  # noqa: F401
