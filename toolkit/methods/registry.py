"""One object per training method, each registered by its own file in this package.

A recipe's ``method = "..."`` names a :class:`Method`. The method's file holds everything
about it: its recipe tables, the cross-key rules, the self-supervised stage(s) (``train``)
and what the student learns from (``distill_loss``), then calls :func:`register_method`.
``load_methods`` imports every module of this package, so adding a method is adding one
file; nothing else lists the methods.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

# modules of this package that are not methods
_NOT_METHODS = {"registry", "run"}


@dataclass(frozen=True)
class Method:
    name: str                                   # the recipe's `method = ...`
    summary: str                                # one line: the paper and what the stages are
    # images, recipe, run_dir, *, device, resume, val_pairs, init_weights, source, quiet -> the weights
    # `hushframe distill` starts from
    train: Callable[..., Path]
    # (recipe, teacher, teacher_path, device, lan_path) -> (loss_fn(student, y), manifest extras); None: the
    # method distils on its own (``distill``)
    distill_loss: Callable | None = None
    # images, recipe, teacher_path, run_dir, **kw -> student weights, for a method with its own distillation
    distill: Callable[..., Path] | None = None
    tables: dict = field(default_factory=dict)  # its own recipe tables: name -> {key: recipes.Key}
    check: Callable[[dict], None] | None = None  # cross-key rules (errors name the keys)
    teacher_kind: str = "teacher"               # what `distill` loads as the teacher (load_model expect_kind)
    train_tables: tuple = ("teacher",)          # the tables `train` crops with (training images must fit)
    init_from_teacher: bool = False             # distill.init_from_teacher may copy the teacher's UNet


_METHODS: dict[str, Method] = {}
_loaded = False


def register_method(method: Method) -> Method:
    """Called once by each method's file: records the method and its recipe tables."""
    from ..recipe_tables import register_section

    _METHODS[method.name] = method
    for name, keys in method.tables.items():
        register_section(name, keys)
    return method


def load_methods() -> dict[str, Method]:
    """Import every method file of this package (each registers itself); name -> Method."""
    global _loaded
    if not _loaded:
        pkg = importlib.import_module(__package__)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            if info.name not in _NOT_METHODS:
                importlib.import_module(f"{__package__}.{info.name}")
        _loaded = True
    return _METHODS


def get_method(name: str) -> Method:
    from ..recipe_tables import RecipeError

    methods = load_methods()
    if name not in methods:
        raise RecipeError(f"unknown method {name!r}; allowed: {', '.join(sorted(methods))}")
    return methods[name]


def method_names() -> list[str]:
    return sorted(load_methods())
