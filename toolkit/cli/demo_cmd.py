"""`hushframe demo` (filled in below once training exists)."""
from .main import app  # noqa: F401
