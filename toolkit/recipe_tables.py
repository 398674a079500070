"""The recipe vocabulary: ``Key`` (type, default, check, what is allowed), the [teacher] and
[distill] tables, ``RecipeError``, and ``register_section`` through which each method adds its own
tables. Methods and training helpers import this; recipes.py (reading, validation, overrides)
imports the methods, so this module sits below both and imports neither.
"""

from __future__ import annotations

from dataclasses import dataclass
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
