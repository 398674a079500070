"""Our weights format (safetensors + arch metadata) and import of published checkpoints.

* Our own files are safetensors: no pickle, nothing executes on load. The header's
  metadata carries ``arch`` and ``config`` so ``load_model`` rebuilds the network.
* Foreign ``.pth`` files are read with ``torch.load(weights_only=True)``: a pickle that
  would run code is refused (``WeightsError``), never executed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from hushframe.core.atomic import atomic_path
from hushframe.core.errors import HushframeError

FORMAT = "hushframe-weights/1"


class WeightsError(HushframeError, ValueError):
    pass


def save_model(model, path: str | Path, extra_meta: dict | None = None) -> Path:
    from safetensors.torch import save_file

    meta = {"format": FORMAT, "arch": model.arch, "config": json.dumps(model.config)}
    for k, v in (extra_meta or {}).items():
        meta[k] = v if isinstance(v, str) else json.dumps(v)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


def read_header(path: str | Path) -> dict:
    """Metadata of a safetensors file, with one-line errors for anything else."""
    from safetensors import safe_open

    p = Path(path)
    if not p.exists():
        raise WeightsError(f"{p}: no such file")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises several types for corrupt headers
        raise WeightsError(f"{p}: not a readable safetensors file ({str(e).splitlines()[0][:120]})") from None
    return meta


def load_state(path: str | Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as e:
        raise WeightsError(f"{path}: cannot read tensors ({str(e).splitlines()[0][:120]})") from None


def load_model(path: str | Path, device: str = "cpu", expect_kind: str | None = None):
    """Rebuild the network named in the file's metadata and load its weights."""
    from .models import create_model, model_kind

    meta = read_header(path)
    if meta.get("format") != FORMAT or "arch" not in meta:
        raise WeightsError(f"{path}: not a hushframe weights file (no arch metadata); "
                           f"convert published checkpoints with `hushframe import-weights`")
    try:
        config = json.loads(meta.get("config", "{}"))
        if meta["arch"] == "atbsn" and isinstance(config, dict):
            # Teachers saved before the edge fix were trained with the paper's zero edges:
            # run them with the edges they learned, not the new default.
            config.setdefault("edge", "zeros")
        model = create_model(meta["arch"], **config)
    except (KeyError, TypeError, json.JSONDecodeError) as e:
        raise WeightsError(f"{path}: unusable arch/config metadata ({e})") from None
    if expect_kind and model_kind(meta["arch"]) != expect_kind:
        raise WeightsError(f"{path}: holds a {model_kind(meta['arch'])} ({meta['arch']}), expected a {expect_kind}")
    load_state_checked(model, load_state(path), path)
    return model.to(device).eval()


def load_state_checked(model, state: dict, source="state") -> None:
    """load_state_dict(strict) with an error that lists missing and unexpected keys."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shape = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
             if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or shape:
        parts = []
        if missing:
            parts.append(f"missing keys: {_short(missing)}")
        if unexpected:
            parts.append(f"unexpected keys: {_short(unexpected)}")
        if shape:
            parts.append(f"shape mismatch: {_short(shape)}")
        raise WeightsError(f"{source}: checkpoint does not fit {getattr(model, 'arch', type(model).__name__)} ({'; '.join(parts)})")
    model.load_state_dict(state, strict=True)


def _short(items, n=6):
    s = ", ".join(items[:n])
    return s + (f", ... (+{len(items) - n} more)" if len(items) > n else "")


# ---------------------------------------------------------------- foreign checkpoints
# Official AT-BSN code names the 1x1 fusion nin_A/B/C; everything under unet.* matches ours.
_TEACHER_RENAMES = {"nin_A.": "fuse1.", "nin_B.": "fuse2.", "nin_C.": "fuse3."}
_WRAPPER_KEYS = ("model_state_dict", "state_dict", "params", "model", "net")


def read_foreign_checkpoint(path: str | Path) -> dict:
    import pickle

    import torch

    p = Path(path)
    if not p.exists():
        raise WeightsError(f"{p}: no such file")
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's message is long; keep the part that says what was found.
        m = re.search(r"(Unsupported global: [^\n]*?)(?: was not| \.|$)|(Unsupported operand [^\n]*)", str(e))
        why = (m.group(1) or m.group(2)).strip() if m else "unsafe or corrupt pickle"
        raise WeightsError(f"{p}: refused: not a plain tensor checkpoint, weights_only load failed ({why[:120]})") from None
    except Exception as e:
        raise WeightsError(f"{p}: not a readable PyTorch checkpoint ({e.__class__.__name__}: {str(e)[:120]})") from None
    for key in _WRAPPER_KEYS:
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict) or not all(hasattr(v, "shape") for v in obj.values()):
        raise WeightsError(f"{p}: no state dict of tensors found")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def detect_layout(state: dict) -> str:
    keys = set(state)
    if any(k.startswith("bsn.") for k in keys):
        return "atbsn-d"  # DoubleNet: teacher under bsn., student under nbsn.
    if "nin_A.weight" in keys and any(k.startswith("unet.") for k in keys):
        return "atbsn-teacher"
    if any(k.startswith("unet.intro.") for k in keys):
        return "student-c"
    if "dec1_1.weight" in keys:
        return "student-c-1.02m"
    return "unknown"


def convert_foreign(state: dict, layout: str, path="checkpoint"):
    """Map a foreign state dict onto our model; returns the built model."""
    import torch

    from .models import create_model

    if layout == "atbsn-d":
        # Import the teacher; the student half is available as layout student-c via nbsn.
        state = {k[4:]: v for k, v in state.items() if k.startswith("bsn.")}
        layout = "atbsn-teacher"
    if layout == "atbsn-teacher":
        renamed = {}
        for k, v in state.items():
            for old, new in _TEACHER_RENAMES.items():
                if k.startswith(old):
                    k = new + k[len(old):]
            renamed[k] = v
        width = int(renamed["unet.intro.conv.weight"].shape[0])
        # Published AT-BSN teachers were trained with the paper's zero-padded half-plane layers.
        model = create_model("atbsn", width=width, levels=_levels(renamed), edge="zeros")
        load_state_checked(model, renamed, path)
        return model
    if layout == "student-c":
        width = int(state["unet.intro.conv.weight"].shape[0])
        levels = _levels(state)
        model = create_model("student_c", width=width, **({} if levels == 5 else {"levels": levels}))
        load_state_checked(model, {k: v.to(torch.float32) for k, v in state.items()}, path)
        return model
    if layout == "student-c-1.02m":
        # The AT-BSN paper's own student C (enc1..enc6, decN_M, dec1_1): imported as is.
        width = int(state["enc1.conv.weight"].shape[0])
        levels = len([k for k in state if re.fullmatch(r"enc\d+\.conv\.weight", k)]) - 1
        model = create_model("student_c_paper", width=width, levels=levels)
        load_state_checked(model, {k: v.to(torch.float32) for k, v in state.items()}, path)
        return model
    raise WeightsError(f"{path}: unknown checkpoint layout (first keys: {_short(sorted(state), 4)})")


def _levels(state: dict) -> int:
    encs = {int(k.split(".")[1][3:]) for k in state if k.startswith("unet.enc")}
    return max(encs) - 1
