"""Torch networks for export/ and runtime/, provided by the toolkit above them without an import of it.

``hushframe export w.safetensors``, the runtime's torch backend (a .safetensors reference in
``parity``, ``stream -m w.safetensors``) and the test helpers rebuild a network from our weights
file. The networks and the weights format live in toolkit/ (models/, weights.py), a floor *above*
export/ and runtime/, so the toolkit provides them through this module instead of being imported.
A provider is any object (a module will do) with

    load(path, device="cpu") -> torch.nn.Module in eval mode, with ``arch`` and ``size_multiple``;
                                a HushframeError (one line, naming the file) when it cannot
    kind(model)              -> "student" | "teacher"
    create(arch, **config)   -> a new torch.nn.Module (fresh weights)

The toolkit's provider is registered in one place, pyproject.toml:

    [project.entry-points."hushframe.models"]
    toolkit = "hushframe.toolkit.provider"

and looked up on first use, so plain Python (``run_parity(..., reference="w.safetensors")``,
``export_onnx("w.safetensors", ...)``) works without any call; ``register_model_provider(obj)``
puts your own in its place (other networks, or a test). Nothing here imports torch.
"""

from __future__ import annotations

from .errors import HushframeError

ENTRY_POINT_GROUP = "hushframe.models"

_provider = None


class ModelProviderError(HushframeError, RuntimeError):
    pass


def register_model_provider(provider) -> None:
    """Use ``provider`` (load/kind/create, see above) for every torch network from now on."""
    global _provider
    for name in ("load", "kind", "create"):
        if not callable(getattr(provider, name, None)):
            raise TypeError(f"a model provider needs a callable {name}(); {provider!r} has none")
    _provider = provider


def model_provider():
    """The registered provider, else the one the ``hushframe.models`` entry point names."""
    if _provider is None:
        from importlib.metadata import entry_points

        eps = list(entry_points(group=ENTRY_POINT_GROUP))
        if not eps:
            raise ModelProviderError("no provider of torch networks is installed (the `hushframe.models` entry "
                                     "point of pyproject.toml): reinstall hushframe (`pip install -e .` in a "
                                     "checkout) or call hushframe.core.models.register_model_provider()")
        try:
            register_model_provider(eps[0].load())
        except ImportError as e:
            raise ModelProviderError(f"the torch networks of {eps[0].value} cannot be imported ({e}); "
                                     f"install the training extras: pip install 'hushframe[train]'") from None
    return _provider


def load_model(path, device: str = "cpu"):
    """Our .safetensors weights -> the network in eval mode (``arch``, ``size_multiple`` attributes)."""
    return model_provider().load(path, device=device)


def model_kind(model) -> str:
    """"student" or "teacher"."""
    return model_provider().kind(model)


def create_model(arch: str, **config):
    """A new network by registry name (``student_c``, ``atbsn``, ...), fresh weights."""
    return model_provider().create(arch, **config)
