"""One training loop for every stage (teacher, distillation, method variants).

A stage supplies a model, a loss function ``loss_fn(model, batch) -> scalar`` and data;
the loop owns everything else: device, AMP and channels_last on CUDA, seeding, the
cosine schedule, DDP, progress bar, CSV/TensorBoard logs, validation, crash-safe
checkpoints and resume, NaN detection.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import sys

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

    from ..data.datasets import CropDataset, make_loader
    from ..data.device_crops import DeviceCrops, fits_on_device

    run_dir = Path(run_dir)
    dev = pick_device(device) if isinstance(device, str) else device
    dist = init_distributed(dev.type)
    if dev.type == "cuda" and dist.world > 1:
        dev = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(dev)
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + dist.rank)

    model.to(dev)
    if dev.type == "cuda":
        model.to(memory_format=torch.channels_last)
        # Training crops have one fixed size: let cuDNN time its algorithms once and keep the fastest.
        torch.backends.cudnn.benchmark = True
    params = [p for p in model.parameters() if p.requires_grad]
    # Fused Adam: one kernel for all parameters instead of a few per tensor (CUDA only;
    # the CPU keeps the reference implementation so CPU runs stay bit-reproducible).
    optimizer = torch.optim.Adam(params, lr=cfg.lr, betas=(0.9, 0.999), fused=dev.type == "cuda" or None)

    start = 0
    ckpt_root = run_dir / "checkpoints" / stage
    latest = find_latest(ckpt_root)
    if latest is not None and not resume:
        raise TrainingError(f"{run_dir}: already holds {stage} checkpoints (latest {latest.name}); "
                            f"pass --resume to continue or choose a new --output folder")
    if resume and latest is not None:
        state = load_checkpoint(latest, model, optimizer)
        start = int(state["step"])
        if not quiet and dist.is_main:
            print(f"resuming {stage} from {latest} at step {start} (lr {cosine_lr(start, cfg.iterations, cfg.lr, cfg.warmup):.3g})")
        model.to(dev)
        for st in optimizer.state.values():
            for k, v in st.items():
                if torch.is_tensor(v) and k != "step":
                    st[k] = v.to(dev)

    net = wrap_ddp(model, dist, dev)
    if cfg.compile and hasattr(torch, "compile"):
        net = torch.compile(net)
    use_amp = cfg.amp and dev.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)

    log = RunLog(run_dir, stage, enabled=dist.is_main)
    if device_crops is None:
        device_crops = dev.type == "cuda" and isinstance(dataset, CropDataset) and fits_on_device(dataset.images, dev)
    if device_crops:
        loader = DeviceCrops(dataset, dev, start, cfg.iterations, cfg.batch, dist.rank, dist.world)
    else:
        loader = make_loader(dataset, start, cfg.iterations, cfg.batch, dist.rank, dist.world, cfg.workers)
    progress = Progress(stage, cfg.iterations, start=start, style="auto" if dist.is_main and not quiet else "none",
                        file=sys.stdout)
    deadline = time.monotonic() + 60 * cfg.max_minutes if cfg.max_minutes > 0 else None
    step = start
    last_ckpt = latest
    t_last, n_last = time.perf_counter(), 0
    # Reading the loss on the host waits for the GPU: on CUDA the loss is summed on the device
    # and read (and checked for NaN) every log_every steps and before any checkpoint, so the
    # GPU is never idle between steps; on the CPU reading it is free, so every step is checked.
    check_every = 1 if dev.type == "cpu" else cfg.log_every
    loss_sum = torch.zeros((), device=dev)
    n_sum = 0
    lv = math.nan
    try:
        for batch in loader:
            lr = cosine_lr(step, cfg.iterations, cfg.lr, cfg.warmup)
            set_lr(optimizer, lr)
            batch = batch.to(dev, non_blocking=True)
            if dev.type == "cuda":
                batch = batch.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=use_amp):
                loss = loss_fn(net, batch)
            loss_sum += loss.detach().float()
            n_sum += 1
            done = step + 1  # steps completed once this update is applied
            due_log = done % cfg.log_every == 0 or done == cfg.iterations
            due_ckpt = done % cfg.checkpoint_every == 0 or done == cfg.iterations
            due_val = validate is not None and (done % cfg.val_every == 0 or done == cfg.iterations)
            if n_sum >= check_every or due_log or due_ckpt or due_val:
                lv = float(loss_sum) / n_sum
                if not math.isfinite(lv):
                    where = f"at step {step}" if n_sum == 1 else f"in steps {done - n_sum}..{step}"
                    # Checked before this step's update: the last checkpoint holds finite weights.
                    raise TrainingError(f"{stage}: loss became {lv} {where}; stopped. "
                                        f"Last good checkpoint: {last_ckpt or 'none'} (lower the lr or check the data)")
                loss_sum.zero_()
                n_sum = 0
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            step = done
            n_last += 1
            progress.update(step, loss=lv)
            if due_log:
                now = time.perf_counter()
                ips = n_last / max(now - t_last, 1e-9)
                t_last, n_last = now, 0
                log.write(step, loss=all_reduce_mean(lv, dist), lr=lr, it_per_s=ips)
            if validate is not None and dist.is_main and (step % cfg.val_every == 0 or step == cfg.iterations):
                metrics = validate(model)
                if metrics:
                    log.write(step, **{f"val_{k}": v for k, v in metrics.items()})
                    progress.note(f"step {step}: " + ", ".join(f"val {k} {v:.3f}" for k, v in metrics.items()))
            if dist.is_main and (step % cfg.checkpoint_every == 0 or step == cfg.iterations):
                last_ckpt = save_checkpoint(ckpt_root, step, model, optimizer, {"stage": stage, "lr": lr})
            # Ranks' clocks differ a little: they stop together when any one is past the deadline,
            # else one would wait forever in the next step's gradient all-reduce.
            if deadline is not None and step < cfg.iterations and \
                    all_reduce_mean(float(time.monotonic() > deadline), dist) > 0:
                if n_sum and not math.isfinite(float(loss_sum)):  # never checkpoint weights a NaN step has touched
                    raise TrainingError(f"{stage}: loss became nan before step {step}; stopped. "
                                        f"Last good checkpoint: {last_ckpt or 'none'} (lower the lr or check the data)")
                if dist.is_main:
                    last_ckpt = save_checkpoint(ckpt_root, step, model, optimizer, {"stage": stage, "lr": lr, "paused": True})
                raise TrainingPaused(f"{stage}: paused at step {step} of {cfg.iterations} after {cfg.max_minutes:g} minutes; "
                                     f"checkpoint {last_ckpt}; continue with --resume", step, last_ckpt)
    except KeyboardInterrupt:
        if dist.is_main and step > start:
            last_ckpt = save_checkpoint(ckpt_root, step, model, optimizer, {"stage": stage, "interrupted": True})
            print(f"\ninterrupted: checkpoint saved at step {step} ({last_ckpt}); continue with --resume")
        raise
    finally:
        progress.close()
        log.close()

    out = run_dir / (final_name or f"{stage}.safetensors")
    if dist.is_main:
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
    if dist.world > 1:
        from .distributed import barrier

        barrier(dist)
        cleanup(dist)
    return out
