"""Networks: the AT-BSN teacher and students A/B/C (``create_model`` by name)."""

from .registry import create_model, list_models, model_kind, register_model

__all__ = ["create_model", "list_models", "model_kind", "register_model"]
