"""Engine backends behind one interface (see base.py). Engines are imported lazily; each backend
module registers itself (``register_backend``), and the registry is read for help, checks and ``auto``."""

from .base import (Backend, BackendInfo, aliases, auto_order, available_backends, backend_class, backend_help,
                   list_backends, open_backend, register_backend, select_backend)

__all__ = ["Backend", "BackendInfo", "aliases", "auto_order", "available_backends", "backend_class", "backend_help",
           "list_backends", "open_backend", "register_backend", "select_backend"]
