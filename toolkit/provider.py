"""The toolkit's networks as a model provider for export/ and runtime/ (see core/models.py).

Registered by pyproject.toml's ``hushframe.models`` entry point; nothing imports this module by name.
"""

from __future__ import annotations

from .models import create_model as create
from .models import model_kind
from .weights import load_model


def load(path, device: str = "cpu"):
    return load_model(path, device=device)


def kind(model) -> str:
    return model_kind(model.arch)


__all__ = ["create", "kind", "load"]
