"""One training loop for every stage (teacher, distillation, method variants).

A stage supplies a model, a loss function ``loss_fn(model, batch) -> scalar`` and data;
the loop owns everything else: device, AMP and channels_last on CUDA, seeding, the
cosine schedule, DDP, progress bar, CSV/TensorBoard logs, validation, crash-safe
checkpoints and resume, NaN detection.

``run_stage`` composes parts with one job each: ``_place`` (device, DDP ranks), ``_optimizer``,
``_resume``, ``_wrap`` (DDP, compile, AMP), ``_loader``, the step (``_forward``, ``_update``),
``LossWatch`` (the loss read and NaN-checked without stalling the GPU), ``Checkpoints``
(interval, pause, interrupt), ``Deadline`` (max_minutes), ``_write_weights`` (weights +
manifest) and ``_teardown``. The order of every torch call is the one-function loop's, so a
resumed run still equals an uninterrupted one bit for bit on the CPU.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from hushframe.core.errors import HushframeError
from hushframe.core.progress import Progress

from .checkpoint import find_latest, load_checkpoint, save_checkpoint
from .distributed import all_reduce_mean, cleanup, init_distributed, wrap_ddp
from .logs import RunLog
from .schedule import cosine_lr, set_lr


class TrainingError(HushframeError):
    pass


class TrainingPaused(HushframeError):
    """The stage reached its time budget (max_minutes) and saved a checkpoint to resume from."""

    def __init__(self, message: str, step: int, checkpoint: Path):
        super().__init__(message)
        self.step, self.checkpoint = step, checkpoint


@dataclass
class StageConfig:
    iterations: int
    batch: int
    crop: int
    lr: float
    seed: int = 0
    checkpoint_every: int = 1000
    val_every: int = 1000
    log_every: int = 50
    workers: int = 0
    amp: bool = True
    compile: bool = False
    max_minutes: float = 0.0
    warmup: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_section(cls, sec: dict) -> "StageConfig":
        names = {f for f in cls.__dataclass_fields__ if f != "extra"}
        return cls(**{k: v for k, v in sec.items() if k in names}, extra={k: v for k, v in sec.items() if k not in names})


def pick_device(requested: str = "auto"):
    import torch

    if isinstance(requested, torch.device):
        return requested
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested.startswith("cuda") and not torch.cuda.is_available():
        raise TrainingError(f"--device {requested}: CUDA is not available on this machine")
    return torch.device(requested)


def run_stage(*, stage: str, run_dir: Path, model, loss_fn: Callable, dataset, cfg: StageConfig,
              device="auto", resume: bool = False, validate: Callable | None = None,
              final_name: str | None = None, manifest: dict | None = None, quiet: bool = False,
              device_crops: bool | None = None) -> Path:
    """Train ``model`` for cfg.iterations steps; returns the final weights path.

    ``device_crops``: cut the crops on the training device from images held there
    (default: on CUDA when the images fit); the batches are the host loader's, bit for bit.
    """
    import torch

    run_dir = Path(run_dir)
    dev, dist = _place(device)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + dist.rank)
    optimizer = _optimizer(model, dev, cfg)
    ckpts = Checkpoints(run_dir / "checkpoints" / stage, stage, model, optimizer, enabled=dist.is_main)
    start = _resume(ckpts, run_dir, resume, model, optimizer, cfg, dev, announce=not quiet and dist.is_main)
    net, amp = _wrap(model, dist, dev, cfg)
    log = RunLog(run_dir, stage, enabled=dist.is_main)
    loader = _loader(dataset, dev, start, cfg, dist, device_crops)
    progress = Progress(stage, cfg.iterations, start=start, style="auto" if dist.is_main and not quiet else "none",
                        file=sys.stdout)
    deadline = Deadline(cfg.max_minutes)
    run = _Run(stage, cfg, dev, dist, model, net, optimizer, amp, ckpts, log, progress, validate)
    try:
        _train(run, loss_fn, loader, start, deadline)
    finally:
        progress.close()
        log.close()
    out = run_dir / (final_name or f"{stage}.safetensors")
    if dist.is_main:
        _write_weights(out, model, dev, cfg, dist, stage, manifest)
    _teardown(dist)
    return out


# ---------------------------------------------------------------- set-up
def _place(device):
    """The training device and this process's place among the DDP ranks."""
    import torch

    dev = pick_device(device) if isinstance(device, str) else device
    dist = init_distributed(dev.type)
    if dev.type == "cuda" and dist.world > 1:
        dev = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(dev)
    return dev, dist


def _optimizer(model, dev, cfg: StageConfig):
    """The model on its device (channels_last and cuDNN autotuning on CUDA) and its Adam."""
    import torch

    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
        # Training crops have one fixed size: let cuDNN time its algorithms once and keep the fastest.
        torch.backends.cudnn.benchmark = True
    params = [p for p in model.parameters() if p.requires_grad]
    # Fused Adam: one kernel for all parameters instead of a few per tensor (CUDA only;
    # the CPU keeps the reference implementation so CPU runs stay bit-reproducible).
    return torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.999), fused=dev.type == "cuda" or None)


def _resume(ckpts: "Checkpoints", run_dir: Path, resume: bool, model, optimizer, cfg: StageConfig, dev,
            announce: bool) -> int:
    """The step to start from: 0, or the latest checkpoint's with --resume (refused without it)."""
    import torch

    latest = ckpts.last
    if latest is not None and not resume:
        raise TrainingError(f"{run_dir}: already holds {ckpts.stage} checkpoints (latest {latest.name}); "
                            f"pass --resume to continue or choose a new --output folder")
    if not (resume and latest is not None):
        return 0
    state = load_checkpoint(latest, model, optimizer)
    start = int(state["step"])
    if announce:
        print(f"resuming {ckpts.stage} from {latest} at step {start} "
              f"(lr {cosine_lr(start, cfg.iterations, cfg.lr, cfg.warmup):.3g})")
    model.to(dev)
    for st in optimizer.state.values():
        for k, v in st.items():
            if torch.is_tensor(v) and k != "step":
                st[k] = v.to(dev)
    return start


@dataclass
class _Amp:
    enabled: bool
    dtype: object
    scaler: object


def _wrap(model, dist, dev, cfg: StageConfig):
    """The network the steps call (DDP, optionally torch.compile) and the mixed precision (CUDA only)."""
    import torch

    net = wrap_ddp(model, dist, dev)
    if cfg.compile and hasattr(torch, "compile"):
        net = torch.compile(net)
    use_amp = cfg.amp and dev.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    return net, _Amp(use_amp, amp_dtype, scaler)


def _loader(dataset, dev, start: int, cfg: StageConfig, dist, device_crops: bool | None):
    """Batches from step ``start`` on: crops cut on the GPU when the images fit there, else the host loader."""
    from ..data.datasets import CropDataset, make_loader
    from ..data.device_crops import DeviceCrops, fits_on_device

    if device_crops is None:
        device_crops = dev.type == "cuda" and isinstance(dataset, CropDataset) and fits_on_device(dataset.images, dev)
    if device_crops:
        return DeviceCrops(dataset, dev, start, cfg.iterations, cfg.batch, dist.rank, dist.world)
    return make_loader(dataset, start, cfg.iterations, cfg.batch, dist.rank, dist.world, cfg.workers)


# ---------------------------------------------------------------- the steps
@dataclass
class _Run:
    """What the steps share: the stage, its settings, where it runs, the model and its helpers."""
    stage: str
    cfg: StageConfig
    dev: object
    dist: object
    model: object
    net: object                    # what the steps call (DDP, compiled)
    optimizer: object
    amp: _Amp
    ckpts: "Checkpoints"
    log: RunLog
    progress: Progress
    validate: Callable | None


def _train(run: _Run, loss_fn, loader, start: int, deadline: "Deadline") -> int:
    """Every step from ``start``: forward, loss check, update, log, validate, checkpoint, deadline."""
    cfg, ckpts, progress = run.cfg, run.ckpts, run.progress
    step = start
    t_last, n_last = time.perf_counter(), 0
    watch = LossWatch(run.stage, run.dev, cfg.log_every)
    try:
        for batch in loader:
            lr = cosine_lr(step, cfg.iterations, cfg.lr, cfg.warmup)
            set_lr(run.optimizer, lr)
            loss = _forward(run.net, loss_fn, batch, run.dev, run.amp)
            watch.add(loss)
            done = step + 1  # steps completed once this update is applied
            due_log = done % cfg.log_every == 0 or done == cfg.iterations
            due_ckpt = done % cfg.checkpoint_every == 0 or done == cfg.iterations
            due_val = run.validate is not None and (done % cfg.val_every == 0 or done == cfg.iterations)
            lv = watch.read(done, due_log or due_ckpt or due_val, ckpts.last)
            _update(loss, run.optimizer, run.amp)
            step = done
            n_last += 1
            progress.update(step, loss=lv)
            if due_log:
                now = time.perf_counter()
                ips = n_last / max(now - t_last, 1e-9)
                t_last, n_last = now, 0
                run.log.write(step, loss=all_reduce_mean(lv, run.dist), lr=lr, it_per_s=ips)
            if run.validate is not None and run.dist.is_main and (step % cfg.val_every == 0 or step == cfg.iterations):
                _validate(run, step)
            if step % cfg.checkpoint_every == 0 or step == cfg.iterations:
                ckpts.save(step, lr=lr)
            if step < cfg.iterations and deadline.passed(run.dist):
                watch.check_unread(step, ckpts.last)   # never checkpoint weights a NaN step has touched
                ckpts.save(step, lr=lr, paused=True)
                raise TrainingPaused(f"{run.stage}: paused at step {step} of {cfg.iterations} after "
                                     f"{cfg.max_minutes:g} minutes; checkpoint {ckpts.last}; continue with --resume",
                                     step, ckpts.last)
    except KeyboardInterrupt:
        if step > start and ckpts.save(step, interrupted=True) is not None:
            print(f"\ninterrupted: checkpoint saved at step {step} ({ckpts.last}); continue with --resume")
        raise
    return step


def _validate(run: _Run, step: int) -> None:
    metrics = run.validate(run.model)
    if metrics:
        run.log.write(step, **{f"val_{k}": v for k, v in metrics.items()})
        run.progress.note(f"step {step}: " + ", ".join(f"val {k} {v:.3f}" for k, v in metrics.items()))


def _forward(net, loss_fn, batch, dev, amp: _Amp):
    """One batch on the device (channels_last on CUDA) through ``loss_fn`` under AMP."""
    import torch

    batch = batch.to(dev, non_blocking=True)
    if dev.type == "cuda":
        batch = batch.contiguous(memory_format=torch.channels_last)
    with torch.autocast(dev.type, dtype=amp.dtype, enabled=amp.enabled):
        return loss_fn(net, batch)


def _update(loss, optimizer, amp: _Amp) -> None:
    optimizer.zero_grad(set_to_none=True)
    amp.scaler.scale(loss).backward()
    amp.scaler.step(optimizer)
    amp.scaler.update()


class LossWatch:
    """The loss, summed on the device and read on the host only when needed, and NaN-checked then.

    Reading the loss on the host waits for the GPU: on CUDA it is read every ``every`` steps (and
    when a step logs, validates or checkpoints), so the GPU is never idle between steps; on the CPU
    reading is free, so every step is checked. A check happens before the step's update: the last
    checkpoint holds finite weights.
    """

    def __init__(self, stage: str, dev, every: int):
        import torch

        self.stage = stage
        self.every = 1 if dev.type == "cpu" else every
        self.sum = torch.zeros((), device=dev)
        self.n = 0
        self.value = math.nan

    def add(self, loss) -> None:
        self.sum += loss.detach().float()
        self.n += 1

    def read(self, done: int, due: bool, last_ckpt) -> float:
        """The mean loss since the last read when it is time (TrainingError if not finite), else the last value."""
        if self.n >= self.every or due:
            lv = float(self.sum) / self.n
            if not math.isfinite(lv):
                step = done - 1
                where = f"at step {step}" if self.n == 1 else f"in steps {done - self.n}..{step}"
                raise TrainingError(f"{self.stage}: loss became {lv} {where}; stopped. "
                                    f"Last good checkpoint: {last_ckpt or 'none'} (lower the lr or check the data)")
            self.sum.zero_()
            self.n = 0
            self.value = lv
        return self.value

    def check_unread(self, step: int, last_ckpt) -> None:
        """TrainingError if the steps not read yet had a non-finite loss."""
        if self.n and not math.isfinite(float(self.sum)):
            raise TrainingError(f"{self.stage}: loss became nan before step {step}; stopped. "
                                f"Last good checkpoint: {last_ckpt or 'none'} (lower the lr or check the data)")


class Checkpoints:
    """The stage's crash-safe checkpoints (checkpoint.py), written by the main rank; ``last``: the newest."""

    def __init__(self, root: Path, stage: str, model, optimizer, enabled: bool = True):
        self.root, self.stage, self.model, self.optimizer, self.enabled = root, stage, model, optimizer, enabled
        self.last = find_latest(root)

    def save(self, step: int, **extra):
        """Write step ``step`` (``extra``: lr, paused, interrupted); the new path, None on other ranks."""
        if not self.enabled:
            return None
        self.last = save_checkpoint(self.root, step, self.model, self.optimizer, {"stage": self.stage, **extra})
        return self.last


class Deadline:
    """``max_minutes`` from now (0: none). Ranks' clocks differ a little: they stop together when any one
    is past it, else one would wait forever in the next step's gradient all-reduce."""

    def __init__(self, minutes: float):
        self.at = time.monotonic() + 60 * minutes if minutes > 0 else None

    def passed(self, dist) -> bool:
        return self.at is not None and all_reduce_mean(float(time.monotonic() > self.at), dist) > 0


# ---------------------------------------------------------------- the end
def _write_weights(out: Path, model, dev, cfg: StageConfig, dist, stage: str, manifest: dict | None) -> None:
    """The trained weights (safetensors) and their manifest beside them."""
    from hushframe.core.manifest import write_manifest

    from ..weights import save_model

    save_model(model.cpu() if dev.type != "cpu" else model, out)
    model.to(dev)
    m = dict(manifest or {})
    write_manifest(out, kind="weights", made_by=f"hushframe {m.pop('command', stage)}",
                   source=m.pop("source", {}), settings={"arch": model.arch, "config": model.config,
                                                          "iterations": cfg.iterations, "batch": cfg.batch,
                                                          "crop": cfg.crop, "lr": cfg.lr, "seed": cfg.seed,
                                                          "device": str(dev), "world_size": dist.world, **m},
                   tools=("torch",))


def _teardown(dist) -> None:
    if dist.world > 1:
        from .distributed import barrier

        barrier(dist)
        cleanup(dist)
