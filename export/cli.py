"""Export CLI commands (export, quantize, compile)."""
from hushframe.toolkit.cli.main import app  # noqa: F401
