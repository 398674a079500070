"""Moved to :mod:`hushframe.core.atomic` (the floor). This name stays only until branches that were
open when it moved have landed; import from ``hushframe.core.atomic``."""

from hushframe.core.atomic import *  # noqa: F401,F403
