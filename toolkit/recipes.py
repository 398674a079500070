"""TOML recipes: every training setting in one reviewed file, validated strictly.

A recipe has top-level ``name``, ``description``, ``method`` and one table per stage
(``[teacher]``, ``[distill]``) plus method tables (``[aprrd]``, ...). Command-line options
override recipe values. Unknown tables or keys and out-of-range values are errors that
name the key and the allowed values, so a typo never silently trains the wrong thing.

The vocabulary (``Key``, the tables, ``RecipeError``) is recipe_tables.py, below the methods that
add their own tables; this module reads and validates recipes against all of them.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .recipe_tables import DISTILL, SECTIONS, TEACHER, TOP, Key, RecipeError, register_section  # noqa: F401


def _check_value(where: str, key: str, spec: Key, value):
    types = spec.type if isinstance(spec.type, tuple) else (spec.type,)
    if spec.type is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, bool) and bool not in types:
        raise RecipeError(f"{where}: '{key}' = {value!r} has the wrong type; allowed: {spec.allowed}")
    if not isinstance(value, types):
        raise RecipeError(f"{where}: '{key}' = {value!r} has the wrong type; allowed: {spec.allowed}")
    if spec.check is not None and not spec.check(value):
        raise RecipeError(f"{where}: '{key}' = {value!r} is out of range; allowed: {spec.allowed}")
    return value


def validate(doc: dict, source: str = "recipe") -> dict:
    """Fill defaults, reject unknown keys and bad values; returns {section: {key: value}} plus top keys."""
    methods = _load_method_sections()
    out: dict[str, Any] = {"name": doc.get("name", Path(source).stem), "description": doc.get("description", ""),
                           "method": doc.get("method", "atbsn")}
    for k in TOP:  # checked before use: a list or table here must be an error, not a TypeError
        if k in doc and not isinstance(doc[k], str):
            raise RecipeError(f"{source}: '{k}' must be a string")
    if out["method"] not in methods:
        raise RecipeError(f"{source}: 'method' = {out['method']!r} is unknown; allowed: {', '.join(sorted(methods))}")
    for k, v in doc.items():
        if k in TOP:
            if not isinstance(v, str):
                raise RecipeError(f"{source}: '{k}' must be a string")
            continue
        if k not in SECTIONS:
            raise RecipeError(f"{source}: unknown key or table '{k}'; allowed: {', '.join(list(TOP) + sorted(SECTIONS))}")
        if not isinstance(v, dict):
            raise RecipeError(f"{source}: '{k}' must be a table")
    for sec, keys in SECTIONS.items():
        given = doc.get(sec, {})
        for k in given:
            if k not in keys:
                raise RecipeError(f"{source}: unknown key '{sec}.{k}'; allowed: {', '.join(sorted(keys))}")
        out[sec] = {k: _check_value(f"{source}", f"{sec}.{k}", spec, given[k]) if k in given else spec.default
                    for k, spec in keys.items()}
    return out


def apply_overrides(recipe: dict, section: str, overrides: dict, source="command line") -> dict:
    """Command-line values (None = not given) replace recipe values, with the same checks."""
    keys = SECTIONS[section]
    for k, v in overrides.items():
        if v is None:
            continue
        if k not in keys:
            raise RecipeError(f"{source}: unknown key '{section}.{k}'; allowed: {', '.join(sorted(keys))}")
        recipe[section][k] = _check_value(source, f"{section}.{k}", keys[k], v)
    return recipe


def parse_set(items: list[str]) -> dict[str, dict]:
    """``--set distill.lr=1e-4`` -> {"distill": {"lr": 1e-4}} (values parsed as TOML)."""
    out: dict[str, dict] = {}
    for it in items or []:
        if "=" not in it or "." not in it.split("=", 1)[0]:
            raise RecipeError(f"--set {it!r}: expected SECTION.KEY=VALUE")
        lhs, rhs = it.split("=", 1)
        sec, key = lhs.strip().split(".", 1)
        try:
            val = tomllib.loads(f"v = {rhs.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            val = rhs.strip()
        out.setdefault(sec, {})[key] = val
    return out


def builtin_recipes() -> list[str]:
    return sorted(p.name[:-5] for p in resources.files("hushframe.recipes").iterdir() if p.name.endswith(".toml"))


def load_recipe(name_or_path: str | Path | None) -> dict:
    """A path to a .toml file, or the name of a built-in recipe (``quick-cpu``)."""
    if name_or_path is None:
        return validate({}, "defaults")
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        text, source = _read(p), str(p)
    else:
        res = resources.files("hushframe.recipes") / f"{p.stem if p.suffix == '.toml' else str(name_or_path)}.toml"
        if not res.is_file():
            raise RecipeError(f"{name_or_path}: no such recipe file or built-in recipe; built-in: {', '.join(builtin_recipes())}")
        text, source = res.read_text(encoding="utf-8"), f"recipes/{res.name}"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise RecipeError(f"{source}: invalid TOML ({e})") from None
    return validate(doc, source)


def _read(p: Path) -> str:
    if p.stat().st_size > 1 << 20:
        raise RecipeError(f"{p}: recipe larger than 1 MiB")
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise RecipeError(f"{p}: not UTF-8 text") from None


def _load_method_sections() -> dict:
    """Every method (toolkit/methods/, one file each) with its tables registered; name -> Method."""
    from .methods.registry import load_methods

    return load_methods()
