"""Training logs: CSV always, TensorBoard when installed."""

from __future__ import annotations

import csv
from pathlib import Path


class RunLog:
    FIELDS = ["step", "loss", "lr", "it_per_s", "val_psnr", "val_ssim"]

    def __init__(self, run_dir: Path, stage: str, enabled: bool = True, tensorboard: bool = True):
        self.enabled = enabled
        self.csv_path = Path(run_dir) / f"{stage}-log.csv"
        self.tb = None
        if not enabled:
            return
        new = not self.csv_path.exists()
        self._f = open(self.csv_path, "a", newline="")
        self._w = csv.DictWriter(self._f, fieldnames=self.FIELDS)
        if new:
            self._w.writeheader()
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tb" / stage))
            except Exception:  # tensorboard not installed: CSV is enough
                self.tb = None

    def write(self, step: int, **values):
        if not self.enabled:
            return
        row = {"step": step, **{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in values.items() if k in self.FIELDS}}
        self._w.writerow(row)
        self._f.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self):
        if self.enabled:
            self._f.close()
            if self.tb is not None:
                self.tb.close()
