"""The ONNX side of the artifact contract: writing and checking what core/contract.py states.

ONNX: input ``input``, float32 NCHW RGB in [0,1], dynamic N/H/W (H, W multiples of
``size_multiple``, padded by the caller), output ``output`` of the same shape. The ONNX
``metadata_props`` and the manifest ``settings`` carry the keys in ``CONTRACT_KEYS``.
The names, keys, opsets and precisions themselves live in :mod:`hushframe.core.contract`.
"""

from __future__ import annotations

import json
from pathlib import Path

from hushframe.core.contract import (CONTRACT_KEYS, DEFAULT_OPSET, INPUT_DESCRIPTION, INPUT_NAME,  # noqa: F401
                                     OUTPUT_NAME, PRECISIONS, SUPPORTED_OPSETS)

from .errors import ExportError

# 1 GiB: refuse absurd files before protobuf parsing.
MAX_ONNX_BYTES = 1 << 30


def contract_settings(*, size_multiple: int, model_kind: str, precision: str, arch: str,
                      blind_spot: int | None = None, **extra) -> dict:
    s = {
        "size_multiple": int(size_multiple),
        "input_name": INPUT_NAME,
        "output_name": OUTPUT_NAME,
        "model_kind": model_kind,
        "precision": precision,
        "arch": arch,
    }
    if model_kind == "teacher":
        s["blind_spot"] = int(blind_spot if blind_spot is not None else 0)
    s.update(extra)
    return s


def metadata_to_props(settings: dict) -> dict[str, str]:
    """ONNX metadata_props are strings; ints stay parseable with int()."""
    out = {}
    for k, v in settings.items():
        out[k] = v if isinstance(v, str) else json.dumps(v)
    out.setdefault("input_contract", INPUT_DESCRIPTION)
    return out


def set_metadata(model, settings: dict) -> None:
    import onnx

    props = metadata_to_props(settings)
    keep = [p for p in model.metadata_props if p.key not in props]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in props.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))


def read_metadata(model) -> dict:
    """Contract settings from metadata_props, ints decoded."""
    out = {}
    for p in model.metadata_props:
        v = p.value
        if p.key in ("size_multiple", "blind_spot"):
            try:
                v = int(v)
            except ValueError:
                pass
        out[p.key] = v
    return out


def opset_of(model) -> int:
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    return 0


def load_onnx_checked(path: str | Path, *, check_contract: bool = True):
    """Load an ONNX file with one-line errors: missing, truncated/corrupt, bad opset, bad names."""
    import onnx

    p = Path(path)
    if not p.exists():
        raise ExportError(f"{p}: no such file")
    if p.is_dir():
        raise ExportError(f"{p}: is a folder, expected an .onnx file")
    size = p.stat().st_size
    if size == 0:
        raise ExportError(f"{p}: empty file, not an ONNX model")
    if size > MAX_ONNX_BYTES:
        raise ExportError(f"{p}: {size} bytes, larger than the {MAX_ONNX_BYTES}-byte limit")
    try:
        model = onnx.load(str(p))
    except Exception as e:
        raise ExportError(f"{p}: not a readable ONNX file, truncated or corrupt ({e.__class__.__name__})") from None
    if not model.graph.node:
        raise ExportError(f"{p}: not a readable ONNX file (no graph nodes; truncated or not ONNX)")
    try:
        onnx.checker.check_model(model)
    except Exception as e:
        msg = str(e).strip().splitlines()[0][:160] if str(e).strip() else e.__class__.__name__
        raise ExportError(f"{p}: ONNX checker failed ({msg})") from None
    opset = opset_of(model)
    if opset not in SUPPORTED_OPSETS:
        raise ExportError(f"{p}: opset {opset} is not supported (supported: {SUPPORTED_OPSETS[0]}-{SUPPORTED_OPSETS[-1]}); "
                          f"re-export with `hushframe export --opset 17`")
    if check_contract:
        inits = {i.name for i in model.graph.initializer}
        inputs = [i.name for i in model.graph.input if i.name not in inits]
        outputs = [o.name for o in model.graph.output]
        from hushframe.core.temporal import STATE_IN, STATE_OUT

        temporal = inputs == [INPUT_NAME, STATE_IN] and outputs == [OUTPUT_NAME, STATE_OUT]  # core/temporal.py
        if (inputs != [INPUT_NAME] or outputs != [OUTPUT_NAME]) and not temporal:
            raise ExportError(f"{p}: unexpected graph inputs {inputs} / outputs {outputs}; hushframe models have one "
                              f"input '{INPUT_NAME}' and one output '{OUTPUT_NAME}' (a temporal model: '{STATE_IN}' "
                              f"and '{STATE_OUT}' beside them; export with `hushframe export`)")
        t = model.graph.input[[i.name for i in model.graph.input].index(INPUT_NAME)].type.tensor_type
        if len(t.shape.dim) != 4:
            raise ExportError(f"{p}: input '{INPUT_NAME}' has rank {len(t.shape.dim)}, expected NCHW (rank 4)")
    return model


def onnx_settings(model, path="model") -> dict:
    """Contract settings stored in a model's metadata (errors if the keys are missing)."""
    md = read_metadata(model)
    missing = [k for k in ("size_multiple", "model_kind", "arch") if k not in md]
    if missing:
        raise ExportError(f"{path}: ONNX metadata lacks {', '.join(missing)} (not exported by hushframe?)")
    return {k: md[k] for k in CONTRACT_KEYS if k in md}
