"""Reproduce the small pretrained weights that ship in ``toolkit/assets`` (used by the demo).

    python -m hushframe.toolkit.demo_weights --output toolkit/assets [--run runs/demo-pretrain]

Everything comes from public-domain images bundled with scikit-image plus synthetic clean
scenes (saturated colours, flat areas, ramps, sharp lines: ``data/synthetic.py``), all passed
through the same camera simulator with fixed seeds (recipe: recipes/demo-pretrain.toml).
CPU only, about 30 CPU-minutes on one thread. Resumable: run the same command again after
an interruption.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

SIM_SEED = 1234
VAL_SEED = 999
SCENE_SEED = 77
SCENES_PER_CAMERA = 16


def demo_data(n_train_per_image: int = 3, n_val_per_image: int = 1, crop: int = 256):
    """(train noisy list, val pairs) from the bundled public-domain photos and synthetic scenes."""
    from .data.datasets import public_domain_images, simulated_set
    from .data.simulator import DEMO_OLPF
    from .data.synthetic import synthetic_scenes

    clean = [a for _, a in public_domain_images()]
    # A mix of cameras: one medium-noise and two high-noise simulations of every photo, each
    # camera also filming its own synthetic scenes (about a third of the crops by area). Every camera
    # has the demo camera's optical low-pass filter (data/simulator.py says why).
    train_noisy = []
    for i, level in enumerate(["medium", "high", "high"][:n_train_per_image]):
        scenes = synthetic_scenes(SCENES_PER_CAMERA, SCENE_SEED + i)
        train_noisy += simulated_set(clean + scenes, 1, SIM_SEED + i, level, olpf=DEMO_OLPF)[0]
    val_noisy, val_clean = simulated_set(clean, n_val_per_image, VAL_SEED, "high", crop=crop, olpf=DEMO_OLPF)
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
    ap.add_argument("--recipe", default="demo-pretrain", help="recipe name or .toml path (default: demo-pretrain)")
    a = ap.parse_args(argv)
    from .recipes import load_recipe
    from .methods.atbsn import distill_student, train_teacher

    r = load_recipe(a.recipe)
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
