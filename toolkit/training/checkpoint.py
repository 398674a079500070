"""Crash-safe training checkpoints.

Layout of a stage's checkpoint folder (``run/checkpoints/teacher/``)::

    step-00001200/  model.safetensors, optim.safetensors, state.json
    latest.json     {"step": 1200, "dir": "step-00001200"}

A checkpoint folder is written under a temporary name and renamed when complete; then
``latest.json`` is replaced atomically. A SIGKILL at any moment leaves the previous
complete checkpoint reachable. ``find_latest`` verifies the folder it is pointed to and
falls back to the newest complete one. Tensors go to safetensors, the rest to JSON:
nothing is unpickled on resume.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hushframe.core.atomic import write_json_atomic
from hushframe.core.errors import HushframeError


class CheckpointError(HushframeError):
    """A checkpoint cannot be written (disk full, ...) or a damaged one cannot be resumed from."""


def _flatten_optimizer(opt_state: dict) -> tuple[dict, dict]:
    import torch

    tensors, meta = {}, {"param_groups": opt_state["param_groups"], "state": {}}
    for pid, st in opt_state["state"].items():
        entry = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                key = f"{pid}.{k}"
                tensors[key] = v.detach().contiguous().cpu()
                entry[k] = {"tensor": key}
            else:
                entry[k] = v
        meta["state"][str(pid)] = entry
    return tensors, meta


def _unflatten_optimizer(tensors: dict, meta: dict) -> dict:
    state = {}
    for pid, entry in meta["state"].items():
        state[int(pid)] = {k: (tensors[v["tensor"]] if isinstance(v, dict) and "tensor" in v else v) for k, v in entry.items()}
    return {"state": state, "param_groups": meta["param_groups"]}


def save_checkpoint(run_dir: Path, step: int, model, optimizer, extra: dict, keep: int = 3) -> Path:
    root = Path(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:08d}"
    tmp = root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        final = _write_checkpoint(root, tmp, name, step, model, optimizer, extra)
    except OSError as e:  # disk full, file-size limit, ...: the previous checkpoint stays the latest
        shutil.rmtree(tmp, ignore_errors=True)
        why = e.strerror or (str(e).splitlines()[0] if str(e) else e.__class__.__name__)
        raise CheckpointError(f"{root}: cannot write checkpoint {name} ({why}); the previous checkpoint is kept") from None
    except Exception as e:  # safetensors reports write errors as its own type
        if type(e).__name__ != "SafetensorError":
            raise
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(f"{root}: cannot write checkpoint {name} ({str(e).splitlines()[0][:120]}); "
                              f"the previous checkpoint is kept") from None
    _prune(root, keep)
    return final


def _write_checkpoint(root: Path, tmp: Path, name: str, step: int, model, optimizer, extra: dict) -> Path:
    import torch
    from safetensors.torch import save_file

    meta = {"format": "hushframe-weights/1", "arch": model.arch, "config": json.dumps(model.config)}
    save_file({k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}, str(tmp / "model.safetensors"), metadata=meta)
    opt_tensors, opt_meta = _flatten_optimizer(optimizer.state_dict())
    opt_tensors["rng.torch"] = torch.get_rng_state()
    save_file(opt_tensors, str(tmp / "optim.safetensors"))
    state = {"step": step, "optimizer": opt_meta, **extra}
    (tmp / "state.json").write_text(json.dumps(state, default=float))
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_json_atomic(root / "latest.json", {"step": step, "dir": name})
    return final


def _prune(root: Path, keep: int):
    done = sorted(p for p in root.glob("step-*") if p.is_dir())
    for p in done[:-keep]:
        shutil.rmtree(p, ignore_errors=True)
    for p in root.glob(".step-*.tmp"):
        shutil.rmtree(p, ignore_errors=True)


def _complete(d: Path) -> bool:
    try:
        st = json.loads((d / "state.json").read_text())
        opt = st["optimizer"]
        if not (isinstance(st["step"], int) and isinstance(opt["state"], dict) and isinstance(opt["param_groups"], list)):
            return False
        from safetensors import safe_open

        for f in ("model.safetensors", "optim.safetensors"):
            with safe_open(str(d / f), framework="pt"):
                pass
        return True
    except Exception:
        return False


def find_latest(run_dir: Path) -> Path | None:
    root = Path(run_dir)
    if not root.exists():
        return None
    try:
        ptr = json.loads((root / "latest.json").read_text())
        d = root / ptr["dir"]
        if _complete(d):
            return d
    except Exception:
        pass
    for d in sorted((p for p in root.glob("step-*") if p.is_dir()), reverse=True):
        if _complete(d):
            return d
    return None


def load_checkpoint(ckpt: Path, model, optimizer) -> dict:
    """Restore model, optimizer and RNG; a damaged checkpoint raises CheckpointError (one line)."""
    from ..weights import WeightsError

    try:
        return _load_checkpoint(ckpt, model, optimizer)
    except (WeightsError, CheckpointError):
        raise
    except Exception as e:
        raise CheckpointError(f"{ckpt}: damaged checkpoint, cannot resume from it ({e.__class__.__name__}: "
                              f"{str(e).splitlines()[0][:120] if str(e) else ''}); remove this folder to resume "
                              f"from the one before") from None


def _load_checkpoint(ckpt: Path, model, optimizer) -> dict:
    import torch
    from safetensors.torch import load_file

    from ..weights import load_state_checked

    load_state_checked(model, load_file(str(ckpt / "model.safetensors")), ckpt / "model.safetensors")
    state = json.loads((ckpt / "state.json").read_text())
    tensors = load_file(str(ckpt / "optim.safetensors"))
    torch.set_rng_state(tensors.pop("rng.torch"))
    optimizer.load_state_dict(_unflatten_optimizer(tensors, state["optimizer"]))
    return state
