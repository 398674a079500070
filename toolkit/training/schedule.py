"""Cosine decay of the learning rate to zero (paper: Adam 3e-4, cosine annealing).

A pure function of the step, so a resumed run continues at exactly the same rate.
"""

import math


def cosine_lr(step: int, total: int, base_lr: float, warmup: int = 0) -> float:
    if warmup and step < warmup:
        return base_lr * (step + 1) / warmup
    t = min(max(step - warmup, 0) / max(total - warmup, 1), 1.0)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * t))


def set_lr(optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr


def budget_lr(step: int, elapsed: float, steps: int, budget_s: float | None, base_lr: float, warmup: int) -> float:
    """Linear warmup times a cosine over whichever budget is nearer its end, steps or seconds (the temporal
    runs stop at either)."""
    frac = max(step / steps, elapsed / budget_s if budget_s else 0.0)
    return base_lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
