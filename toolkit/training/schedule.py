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
