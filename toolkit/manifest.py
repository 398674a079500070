"""Moved to :mod:`hushframe.core.manifest` (the floor). This name stays only until branches that were
open when it moved have landed; import from ``hushframe.core.manifest``."""

from hushframe.core.manifest import *  # noqa: F401,F403
