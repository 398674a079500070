"""Engine backends behind one interface (see base.py). Engines are imported lazily."""

from .base import (Backend, BackendInfo, available_backends, backend_class, list_backends, open_backend,
                   register_backend, select_backend)

__all__ = ["Backend", "BackendInfo", "available_backends", "backend_class", "list_backends", "open_backend",
           "register_backend", "select_backend"]
