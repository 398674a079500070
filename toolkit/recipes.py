"""TOML recipes: every training setting in one reviewed file, validated strictly.

A recipe has top-level ``name``, ``description``, ``method`` and one table per stage
(``[teacher]``, ``[distill]``) plus method tables (``[aprrd]``, ...). Command-line options
override recipe values. Unknown tables or keys and out-of-range values are errors that
name the key and the allowed values, so a typo never silently trains the wrong thing.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

from hushframe.core.errors import HushframeError


class RecipeError(HushframeError, ValueError):
    pass


@dataclass
class Key:
    type: type | tuple
    default: Any
    check: Callable[[Any], bool] | None = None
    allowed: str = ""


def _pos(x):
    return x > 0


def _nonneg(x):
    return x >= 0


def _blind(x):
    return x == 0 or (x > 0 and x % 2 == 1)


def _blind_list(xs):
    return len(xs) > 0 and all(isinstance(x, int) and _blind(x) for x in xs)


def _options(d):
    return all(isinstance(k, str) and isinstance(v, (int, float, bool)) for k, v in d.items())


def _mult8(x):
    return x >= 16 and x % 8 == 0


def _stage_keys(iterations: int, crop: int) -> dict:
    """Keys every training stage has (the loop's settings), with stage-specific defaults."""
    return {
        "iterations": Key(int, iterations, _pos, "a positive integer"),
        "batch": Key(int, 8, _pos, "a positive integer"),
        "crop": Key(int, crop, _mult8, "a multiple of 8, at least 16"),
        "lr": Key(float, 3e-4, _pos, "a positive number"),
    }


_LOOP_KEYS = {
    "seed": Key(int, 0, _nonneg, "a non-negative integer"),
    "checkpoint_every": Key(int, 5000, _pos, "a positive integer"),
    "val_every": Key(int, 5000, _pos, "a positive integer"),
    "val_images": Key(int, 16, _pos, "a positive integer"),
    "log_every": Key(int, 50, _pos, "a positive integer"),
    "workers": Key(int, 2, _nonneg, "a non-negative integer"),
    "amp": Key(bool, True, None, "true or false (CUDA only)"),
    "compile": Key(bool, False, None, "true or false"),
    # Stop with a checkpoint after this many minutes (0: no limit); --resume continues. Long
    # schedules then run in pieces on machines lent for a few minutes at a time.
    "max_minutes": Key(float, 0.0, lambda v: v >= 0, "a non-negative number of minutes (0 = no limit)"),
    # Linear warm-up steps before the cosine decay: Adam's first steps move every weight by about
    # the full lr whatever its gradient, which is what damages a trained model in a short fine-tune.
    "warmup": Key(int, 0, _nonneg, "a non-negative integer (steps)"),
}

TEACHER = {
    "arch": Key(str, "atbsn", lambda v: v in ("atbsn",), "atbsn"),
    "width": Key(int, 48, _pos, "a positive integer"),
    "levels": Key(int, 5, lambda v: 1 <= v <= 6, "1..6"),
    "train_blind_spot": Key(int, 9, _blind, "0 or a positive odd number (k_a)"),
    "infer_blind_spot": Key(int, 3, _blind, "0 or a positive odd number (k_b)"),
    **_stage_keys(400_000, 256),
    **_LOOP_KEYS,
}

def _students() -> list[str]:
    from .models import list_models

    return list_models("student")


DISTILL = {
    "student": Key(str, "student_c", lambda v: v in _students(), "a registered student (hushframe.toolkit.models: student_a, student_b, student_c, ...)"),
    # Empty: the teacher file given on the command line. Else a teacher spec (toolkit/teachers), e.g. "ffmpeg:nlmeans=s=3".
    "teacher": Key(str, "", None, "a teacher spec such as atbsn:PATH, student:PATH, ffmpeg:nlmeans=s=3, labels:DIR"),
    "width": Key(int, 48, _pos, "a positive integer"),
    "levels": Key(int, 0, lambda v: 0 <= v <= 6, "0 (the student's own: A/B 2, C 5) or 1..6 poolings"),
    # The student's own builder settings beyond width/levels (the CPU students' unshuffle, convs).
    "student_options": Key(dict, {}, _options, "a table of numbers/booleans, e.g. {unshuffle = 2, convs = 1}"),
    "teachers": Key(list, [0, 1, 3, 5, 7, 9, 11], _blind_list, "a non-empty list of blind spots, each 0 or odd"),
    "mode": Key(str, "multi", lambda v: v in ("multi", "mean"), "multi, mean"),
    "init_from_teacher": Key(bool, False, None, "true or false"),
    # hushframe adapt: share of the deployed student's own output in the target (0 = the teacher alone).
    "anchor": Key(float, 0.0, lambda v: 0 <= v < 1, "a number in [0, 1)"),
    # Loss to a teacher spec's labels: l1 (robust to label outliers), or l2 (what PSNR measures; a
    # fine-tuning stage after l1). The AT-BSN multi-teacher loss is the paper's L1 whatever this says.
    "loss": Key(str, "l1", lambda v: v in ("l1", "l2"), "l1, l2"),
    **_stage_keys(100_000, 128),
    **_LOOP_KEYS,
}

SECTIONS: dict[str, dict[str, Key]] = {"teacher": TEACHER, "distill": DISTILL}
TOP = {"name": str, "description": str, "method": str}


def register_section(name: str, keys: dict[str, Key]):
    """A method's own table (``[aprrd]``, ...): called by ``methods.registry.register_method``."""
    SECTIONS[name] = keys


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
