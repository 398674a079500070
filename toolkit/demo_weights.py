"""Reproduce the small pretrained weights that ship in ``toolkit/assets`` (used by the demo).

    python -m hushframe.toolkit.demo_weights --output toolkit/assets [--run runs/demo-pretrain]

Everything comes from public-domain images bundled with scikit-image, passed through the
camera simulator with a fixed seed (recipe: recipes/demo-pretrain.toml). Resumable: run the
same command again after an interruption.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

SIM_SEED = 1234
VAL_SEED = 999


def demo_data(n_train_per_image: int = 3, n_val_per_image: int = 1, crop: int = 256):
    """(train noisy list, val pairs) from the bundled public-domain photos."""
    from .data.datasets import public_domain_images, simulated_set

    clean = [a for _, a in public_domain_images()]
    # A mix of cameras: one medium-noise and two high-noise simulations of every photo.
    train_noisy = []
    for i, level in enumerate(["medium", "high", "high"][:n_train_per_image]):
        train_noisy += simulated_set(clean, 1, SIM_SEED + i, level)[0]
    val_noisy, val_clean = simulated_set(clean, n_val_per_image, VAL_SEED, "high", crop=crop)
    return train_noisy, list(zip(val_noisy, val_clean))


class ArrayPair:
    def __init__(self, name, noisy, clean):
        self.name, self.noisy, self.clean = name, noisy, clean

    def load(self):
        return self.noisy, self.clean


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--output", default="toolkit/assets")
    ap.add_argument("--run", default="runs/demo-pretrain")
    ap.add_argument("--device", default="auto")
    a = ap.parse_args(argv)
    from .recipes import load_recipe
    from .training.stages import distill_student, train_teacher

    r = load_recipe("demo-pretrain")
    train, val = demo_data()
    val_pairs = [ArrayPair(f"val{i}", n, c) for i, (n, c) in enumerate(val)]
    run = Path(a.run)
    resume = (run / "checkpoints").exists()
    teacher = run / "teacher.safetensors"
    if not teacher.exists():
        teacher = train_teacher(train, r["teacher"], run, device=a.device, resume=resume, val_pairs=val_pairs,
                                source={"data": "scikit-image public-domain photos + simulator", "seed": SIM_SEED})
    student = run / "student.safetensors"
    if not student.exists():
        student = distill_student(train, r["distill"], teacher, run, device=a.device, resume=resume,
                                  val_pairs=val_pairs, source={"data": "scikit-image public-domain photos + simulator"})
    out = Path(a.output)
    out.mkdir(parents=True, exist_ok=True)
    for f in (teacher, student):
        shutil.copy(f, out / f"demo-{f.name}")
    print(f"wrote {out}/demo-teacher.safetensors and {out}/demo-student.safetensors")


if __name__ == "__main__":
    main()
