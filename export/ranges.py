"""Calibration statistics and activation ranges for the INT8 recipe.

One ONNX Runtime pass over the calibration crops (``calibration_pass``) feeds every statistic the
recipe needs (activation ranges here, GPTQ's Hessians in gptq.py); ``range_for`` turns one tensor's
statistics into its symmetric clipping threshold.
"""

from __future__ import annotations

import numpy as np

from .contract import INPUT_NAME
from .progress import advance

RANGE_METHODS = ("mse", "max", "percentile")


def session_with_outputs(model, tensors: list[str], threads: int | None = None):
    """An ONNX Runtime session of ``model`` that also returns the named intermediate tensors."""
    import onnx

    from .onnx_export import ort_session

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in have:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    return ort_session(m, threads)


def calibration_pass(model, crops: np.ndarray, accumulators: list, threads: int | None = None) -> None:
    """Run ``model`` once per calibration crop and hand every accumulator the tensors it asked for.

    One pass serves several statistics (activation ranges, GPTQ's Hessians): each crop costs one
    ONNX Runtime run, however many accumulators read it. An accumulator has ``tensors`` (names;
    the network input is always included) and ``add(values: dict[name, array])``.
    """
    tensors = sorted({t for a in accumulators for t in a.tensors} - {INPUT_NAME})
    sess = session_with_outputs(model, tensors, threads) if tensors else None
    for k in range(len(crops)):
        x = crops[k:k + 1]
        vals = dict(zip(tensors, sess.run(tensors, {INPUT_NAME: x}))) if sess else {}
        vals[INPUT_NAME] = x
        for a in accumulators:
            a.add(vals)
        advance()  # one crop of the current stage (export/progress.py)


class ActivationStats:
    """Per tensor: per-channel absmax over the crops and a random sample of values (for percentile/MSE ranges)."""

    def __init__(self, tensors: list[str], samples_per_crop: int = 20000, seed: int = 0):
        self.tensors = list(tensors)
        self.samples_per_crop = samples_per_crop
        self._rng = np.random.default_rng(seed)
        self._acc: dict[str, dict] = {t: {"absmax": None, "sample": []} for t in self.tensors}

    def add(self, vals: dict) -> None:
        for t in self.tensors:
            a = vals[t]
            cm = np.abs(a).max(axis=(0, 2, 3))
            st = self._acc[t]
            st["absmax"] = cm if st["absmax"] is None else np.maximum(st["absmax"], cm)
            flat = a.reshape(-1)
            st["sample"].append(flat[self._rng.integers(0, flat.size, min(self.samples_per_crop, flat.size))])

    def result(self) -> dict[str, dict]:
        return {t: {"absmax": st["absmax"], "sample": np.concatenate(st["sample"])} for t, st in self._acc.items()}


def activation_stats(model, crops: np.ndarray, tensors: list[str], samples_per_crop: int = 20000, seed: int = 0,
                     threads: int | None = None) -> dict[str, dict]:
    """Per tensor: per-channel absmax over the crops and a random sample of values (for percentile/MSE ranges)."""
    acc = ActivationStats(tensors, samples_per_crop, seed)
    calibration_pass(model, crops, [acc], threads)
    return acc.result()


def check_method(method: str) -> str:
    """``method`` if it is a range method ``range_for`` knows, else ValueError (before any calibration)."""
    base, star, factor = method.partition("*")
    if star:
        try:
            f = float(factor)
        except ValueError:
            raise ValueError(f"range method {method!r}: headroom after '*' must be a number") from None
        if not f >= 1.0:
            raise ValueError(f"range method {method!r}: headroom must be >= 1")
    name, _, q = base.partition(":")
    if name not in RANGE_METHODS or (q and name != "percentile"):
        raise ValueError(f"unknown range method {method!r} (mse, max, percentile[:Q], each optionally *HEADROOM)")
    if q:
        try:
            if not 0 < float(q) <= 100:
                raise ValueError
        except ValueError:
            raise ValueError(f"range method {method!r}: the percentile after ':' must be in (0, 100]") from None
    return method


def range_for(stats: dict, method: str = "mse") -> float:
    """Symmetric clipping threshold T (scale = T / 127) for one tensor.

    ``method``: mse | max | percentile[:Q], optionally ``*HEADROOM`` (e.g. ``max*1.5``): T times a
    factor, room for frames whose activations exceed every calibration crop (saturated colours).
    """
    if "*" in method:
        base, _, factor = method.partition("*")
        try:
            f = float(factor)
        except ValueError:
            raise ValueError(f"range method {method!r}: headroom after '*' must be a number") from None
        if not f >= 1.0:
            raise ValueError(f"range method {method!r}: headroom must be >= 1")
        return range_for(stats, base) * f
    amax = float(stats["absmax"].max())
    if amax <= 0:
        return 1e-8
    if method == "max":
        return amax
    x = np.abs(stats["sample"]).astype(np.float64)
    if method.startswith("percentile"):
        q = float(method.split(":", 1)[1]) if ":" in method else 99.99
        return max(float(np.percentile(x, q)), amax * 1e-3)
    if method == "mse":
        best, best_t = None, amax
        for f in np.linspace(0.3, 1.0, 71):
            t = amax * f
            s = t / 127.0
            q = np.clip(np.rint(x / s), -127, 127) * s
            e = float(np.mean((q - x) ** 2))
            if best is None or e < best:
                best, best_t = e, t
        return best_t
    raise ValueError(f"unknown range method {method!r} (mse, max, percentile[:Q], each optionally *HEADROOM)")
