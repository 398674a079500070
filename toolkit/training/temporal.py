"""Train a temporal student from a camera's own noisy video: frame-to-frame Noise2Noise (route b),
optionally blended with a frame teacher's pseudo-labels (route c, ``blend_labels``).

No clean frame is ever used. A frame's future neighbours show the same scene under independent
noise, so, moved onto the frame along the motion, they are unbiased targets for it (Noise2Noise,
Lehtinen et al. 2018; across time as in MF2F / UDVD's frame-to-frame training):

    target_t = mean_k  warp(noisy_{t+k} -> t)      k = 1..FUTURE, where the flow is consistent
    loss     = || model(noisy_<=t, state) - target_t ||^2   over consistent pixels only

* the model is causal: at time t it has seen frames up to t, never t+1..t+FUTURE, so the target's
  noise is independent of everything it saw (the N2N condition);
* the targets' flow is offline (DIS medium, full resolution, forward-backward checked: occlusions and
  pixels leaving the frame get no target), and zero where no motion explains the frame as well
  (core/temporal.py ``still_blocks``: an exact, unresampled target; flow noise on a still scene had
  failed the forward-backward check on 61% of its pixels at moderate noise); the state's flow is the runtime's own
  (core/temporal.py: DIS ultrafast at half resolution), so the model learns with the alignment
  errors it will meet when deployed;
* sequences of ``unroll`` frames are trained through time after a random ``burn_in`` of up to
  ``burn_in`` frames run without gradients: the model sees histories from none (the first frame: a
  per-frame denoiser) to ``burn_in + unroll`` frames, as a static camera builds them;
* the state's warp here is ``grid_sample`` (differentiable); the runtime's is OpenCV's remap of the
  same flow: both bicubic (a = -0.75), out-of-frame history dropped.

Route (c) blended in (``--teacher ffmpeg:nlmeans=s=3 --teacher-weight 0.5``): where a frame has an N2N
target, the target becomes (1 - w) N2N + w label; where it has none (occlusions, the last frames, pixels
leaving the frame) the label alone. An N2N target is unbiased but carries the noise of one or two frames;
a spatial filter's label is biased (it smooths detail) but nearly noise-free: on moving footage at
moderate noise the small student learned more from the mixture in the same minutes (BENCHMARKS.md,
"video": the routes), on a still scene the N2N targets' exactness is what a spatial label gives away.

``train_temporal`` runs to ``steps`` or the ``minutes`` budget, whichever ends first (the learning
rate's cosine follows whichever is nearer), checkpoints every ``checkpoint_every`` steps, resumes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hushframe.core.errors import HushframeError

TARGET_STILL_MARGIN = 1.4      # see _warp_consistent
FUTURE = 2                     # future frames averaged into a target (variance / 2, still unbiased)
CONSISTENCY_PX = 0.7           # forward-backward flow error (px) above which a pixel has no target


class TemporalTrainingError(HushframeError, ValueError):
    """A run that cannot start as asked (clips too short, a refiner of another size, resume with other
    settings): one line naming the file or option, no traceback."""


@dataclass
class TemporalConfig:
    width: int = 16            # the refiner: a CPUStudent (cpu-fast class: 16 / 1 conv; cpu-mid: 40 / 2)
    convs: int = 1
    levels: int = 2
    gate_width: int = 16
    steps: int = 20000         # a ceiling: on 2 CPU cores the minutes budget ends a run first (~4-6 steps/s)
    minutes: float | None = 25.0
    batch: int = 8
    crop: int = 64
    unroll: int = 5
    burn_in: int = 10
    lr: float = 5e-4
    warmup: int = 100
    seed: int = 0
    checkpoint_every: int = 100
    threads: int | None = None
    teacher: str | None = None  # route (c): a frame teacher's spec whose labels are blended into the targets
    teacher_weight: float = 0.5
    noise_model: str = "encoded"   # the gate's noise model (models/temporal.py); "linear": as before calibration
    extra: dict = field(default_factory=dict)


@dataclass
class Sequence:
    """One clip ready to train on: noisy frames, runtime flows (t -> t-1) and N2N targets for t."""

    name: str
    noisy: np.ndarray          # T x H x W x 3 uint8
    flow: np.ndarray           # T x H x W x 2 float16, flow[0] unused
    target: np.ndarray         # T x H x W x 3 float16 in [0,1]
    mask: np.ndarray           # T x H x W bool: pixels with a target
    noise: np.ndarray | None = None   # K x 2 (brightness, noise) block samples (noise_calibration.py)


def prepare(clips, progress=None) -> list[Sequence]:
    """Flows and targets for each clip (the offline part: ~0.1 s per 640x360 frame on 2 cores)."""
    import cv2

    from hushframe.core.temporal import FlowEstimator, gray_for_flow

    from .noise_calibration import block_samples

    seqs = []
    rng = np.random.default_rng(0)
    total = sum(len(c.frames) for c in clips)
    done = 0
    for c in clips:
        n = np.stack(c.frames)
        t_len, h, w = n.shape[:3]
        runtime_flow = FlowEstimator()
        halves = [gray_for_flow(f) for f in n]
        flow = np.zeros((t_len, h, w, 2), np.float16)
        for t in range(1, t_len):
            flow[t] = runtime_flow(halves[t], halves[t - 1], h, w)
        grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in n]
        acc = np.zeros((t_len, h, w, 3), np.float32)
        cnt = np.zeros((t_len, h, w), np.float32)
        gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
        noise = []
        for t in range(t_len):
            for k in range(1, FUTURE + 1):
                if t + k >= t_len:
                    break
                warped, ok = _warp_consistent(n[t + k], grays[t], grays[t + k], gx, gy)
                acc[t][ok] += warped[ok]
                cnt[t][ok] += 1
            noise.append(block_samples(n[t], acc[t], cnt[t], rng))
            done += 1
            if progress is not None:
                progress(done, total)
        mask = cnt > 0
        target = (acc / np.maximum(cnt, 1)[..., None] / 255.0).astype(np.float16)
        seqs.append(Sequence(c.name, n, flow, target, mask, np.concatenate(noise)))
    return seqs


def blend_labels(seqs: list[Sequence], labels, weight: float) -> None:
    """Route (c) into the targets, in place: ``labels`` one float [0,1] (or uint8) HxWx3 per frame, in the
    order of ``seqs``' frames: a list, or an iterator that makes each when asked (a float copy of every
    label at once would be 25 MB per 1080p frame). Targets become (1 - weight) N2N + weight label where N2N
    has one, the label elsewhere (so every pixel has a target)."""
    if not 0.0 < weight <= 1.0:
        raise TemporalTrainingError(f"--teacher-weight must be in (0, 1], not {weight}")
    it = iter(labels)
    frames = sum(len(s.noisy) for s in seqs)
    for n, (s, t) in enumerate((s, t) for s in seqs for t in range(len(s.noisy))):
        lab = next(it, None)
        if lab is None:
            raise ValueError(f"{n} labels for {frames} frames")
        lab = lab.astype(np.float32) / 255.0 if lab.dtype == np.uint8 else lab.astype(np.float32)
        n2n = s.target[t].astype(np.float32)
        s.target[t] = np.where(s.mask[t][..., None], (1.0 - weight) * n2n + weight * lab, lab).astype(np.float16)
    if next(it, None) is not None:
        raise ValueError(f"more labels than the {frames} frames")
    for s in seqs:
        s.mask[:] = True


def route_name(cfg: "TemporalConfig") -> str:
    return "frame-to-frame N2N" if not cfg.teacher else \
        f"frame-to-frame N2N blended with {cfg.teacher} labels (weight {cfg.teacher_weight:g})"


def _warp_consistent(src_rgb, g_to, g_from, gx, gy):
    """``src_rgb`` (a later frame) moved onto frame ``g_to``, and where the move is trustworthy."""
    import cv2

    from hushframe.core.temporal import FLOW_SCALE, STILL_BLOCK, still_blocks

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    f = dis.calc(g_to, g_from, None)                    # g_to(p) ~ g_from(p + f(p))
    b = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(g_from, g_to, None)
    mx, my = gx + f[..., 0], gy + f[..., 1]
    back = cv2.remap(b, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    h, w = g_to.shape
    ok = (np.linalg.norm(f + back, axis=-1) < CONSISTENCY_PX) & (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    # the runtime's still test at full resolution (its block in full-resolution pixels), stricter than the
    # runtime's margin: the state's gate forgives a zero flow on slow motion, a target taken at the wrong
    # place is learned as it is (1.4: where still scenes' gains saturate)
    moved = cv2.remap(g_from, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    still = still_blocks(g_to, g_from, cv2.absdiff(g_to, moved), block=STILL_BLOCK * FLOW_SCALE,
                         margin=TARGET_STILL_MARGIN)
    mx, my = np.where(still, gx, mx), np.where(still, gy, my)
    ok |= still
    # bicubic: a bilinear resample at half-pixel motion is a [1/2, 1/2] blur, and the student learns to blur
    # as much as its targets are blurred
    warped = cv2.remap(src_rgb.astype(np.float32), mx, my, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return warped, ok


def warp_state(state, flow):
    """B x C x H x W state resampled at p + flow(p) (B x H x W x 2), out-of-frame history dropped: the
    runtime's align_state (core/temporal.py) in torch, bicubic with the same kernel, differentiable."""
    import torch
    import torch.nn.functional as F

    _, _, h, w = state.shape
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    sx, sy = gx[None] + flow[..., 0], gy[None] + flow[..., 1]
    valid = ((sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)).to(state.dtype)[:, None]
    grid = torch.stack([2 * sx / max(w - 1, 1) - 1, 2 * sy / max(h - 1, 1) - 1], -1)
    return F.grid_sample(state, grid, mode="bicubic", padding_mode="border", align_corners=True) * valid


class _Batches:
    def __init__(self, seqs: list[Sequence], cfg: TemporalConfig):
        self.seqs = [s for s in seqs if len(s.noisy) >= cfg.unroll + 1 and min(s.noisy.shape[1:3]) >= cfg.crop]
        if not self.seqs:
            names = ", ".join(s.name for s in seqs[:3]) + (", ..." if len(seqs) > 3 else "")
            raise TemporalTrainingError(f"{names or 'no clips'}: no clip has {cfg.unroll + 1} frames of at least "
                                        f"{cfg.crop}x{cfg.crop} (--crop, or longer/larger clips)")
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        # clips weighted by their frames, so a long clip is not under-sampled
        w = np.array([len(s.noisy) for s in self.seqs], np.float64)
        self.p = w / w.sum()

    def __call__(self):
        import torch

        cfg, rng = self.cfg, self.rng
        c = cfg.crop
        burn = int(rng.integers(0, cfg.burn_in + 1))
        length = burn + cfg.unroll
        xs, fl, tg, mk = [], [], [], []
        for _ in range(cfg.batch):
            s = self.seqs[rng.choice(len(self.seqs), p=self.p)]
            t_len, h, w = s.noisy.shape[:3]
            span = min(length, t_len)
            t0 = int(rng.integers(0, t_len - span + 1))
            y0, x0 = int(rng.integers(0, h - c + 1)), int(rng.integers(0, w - c + 1))
            sl = (slice(t0, t0 + span), slice(y0, y0 + c), slice(x0, x0 + c))
            xs.append(_pad_time(s.noisy[sl], length))
            fl.append(_pad_time(s.flow[sl], length))
            tg.append(_pad_time(s.target[sl], length))
            mk.append(_pad_time(s.mask[sl], length, False))
        x = torch.from_numpy(np.stack(xs)).permute(0, 1, 4, 2, 3).float() / 255.0      # B T 3 c c
        flow = torch.from_numpy(np.stack(fl).astype(np.float32))                         # B T c c 2
        target = torch.from_numpy(np.stack(tg).astype(np.float32)).permute(0, 1, 4, 2, 3)
        mask = torch.from_numpy(np.stack(mk)).float()[:, :, None]                         # B T 1 c c
        return x, flow, target, mask, length - cfg.unroll


def _pad_time(a, length, fill=None):
    """A window shorter than asked (a short clip) is front-padded by repeating its first frame with no target."""
    if len(a) >= length:
        return a
    pad = np.repeat(a[:1], length - len(a), 0)
    if fill is not None:
        pad[:] = fill
    return np.concatenate([pad, a])


def sequence_loss(model, x, flow, target, mask, burn: int):
    """Run the model along the sequence (history carried, aligned by the runtime's flow); masked MSE on
    the frames after the burn-in."""
    import torch

    state = None
    loss, frames = 0.0, 0
    for t in range(x.shape[1]):
        if state is not None:
            state = warp_state(state, flow[:, t])
        grad = t >= burn
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            y, state = model(x[:, t], state)
        if not grad:
            state = state.detach()
            continue
        m = mask[:, t]
        if float(m.sum()) > 0:
            loss = loss + (((y - target[:, t]) ** 2) * m).sum() / (3 * m.sum())
            frames += 1
    return loss / max(frames, 1)


def build_model(cfg: TemporalConfig, init=None):
    """The temporal student; ``init``: a per-frame CPU student (.safetensors) its refiner starts from."""
    from ..models.registry import create_model

    model = create_model("temporal_cpu", width=cfg.width, levels=cfg.levels, convs=cfg.convs, gate_width=cfg.gate_width,
                         noise_model=cfg.noise_model)
    if init is not None:
        from ..weights import load_model

        student = load_model(init)
        try:
            model.init_from_student(student)
        except RuntimeError:
            raise TemporalTrainingError(
                f"{init}: its network ({student.arch} {json.dumps(student.config)}) is not the refiner asked for "
                f"(student_cpu width {cfg.width}, convs {cfg.convs}, levels {cfg.levels}); give a matching CPU "
                f"student or leave --student out") from None
    return model


def calibrate(model, seqs: list[Sequence]):
    """Set an encoded-noise student's noise model from the clips (noise_calibration.py); None for "linear".
    Deterministic, so a resumed run computes the same (and its checkpoint holds it anyway)."""
    if getattr(model, "noise_model", "linear") != "encoded":
        return None
    from .noise_calibration import fit_encoded_noise

    samples = np.concatenate([s.noise for s in seqs if s.noise is not None] or [np.zeros((0, 2), np.float32)])
    try:
        fit = fit_encoded_noise(samples)
    except ValueError as e:
        names = ", ".join(s.name for s in seqs[:3]) + (", ..." if len(seqs) > 3 else "")
        raise TemporalTrainingError(f"{names}: {e}") from None
    model.set_noise(fit.shot, fit.read, fit.gamma)
    return fit


def train_temporal(seqs: list[Sequence], out_dir, cfg: TemporalConfig, *, init=None, resume: bool = False,
                   progress_style: str = "auto", command: str = "hushframe adapt --temporal", source: dict | None = None):
    """Train and write ``out_dir/temporal-student.safetensors`` (+ manifest); returns its path and a summary."""
    import torch

    from hushframe.core.atomic import write_json_atomic
    from hushframe.core.manifest import write_manifest
    from hushframe.core.progress import Progress

    from ..weights import load_state, save_model
    from .schedule import budget_lr, set_lr

    out_dir = Path(out_dir)
    ck_dir = out_dir / "checkpoints"
    ck_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    torch.manual_seed(cfg.seed)
    model = build_model(cfg, init)
    noise = calibrate(model, seqs)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    step, spent = 0, 0.0
    ck, ck_state = ck_dir / "last.safetensors", ck_dir / "last.json"
    if resume and ck.exists() and ck_state.exists():
        info = json.loads(ck_state.read_text())
        if info.get("config") != asdict(cfg):
            was = info.get("config") or {}
            diff = ", ".join(f"{k} {was.get(k)!r} -> {v!r}" for k, v in asdict(cfg).items() if was.get(k) != v)
            raise TemporalTrainingError(f"{ck_state}: this run was started with other settings ({diff}); rerun "
                                        f"without --resume into a new folder, or with the same flags")
        model.load_state_dict(load_state(ck))
        opt.load_state_dict(torch.load(ck_dir / "last-optimizer.pt", weights_only=True))
        step, spent = int(info["step"]), float(info["seconds"])
    batches = _Batches(seqs, cfg)
    log_path = out_dir / "temporal-log.csv"
    if step == 0 or not log_path.exists():
        log_path.write_text("step,seconds,loss\n")
    budget = cfg.minutes * 60.0 if cfg.minutes else None
    bar = Progress("temporal", cfg.steps, start=step, style=progress_style, noun="step")
    t_start = time.perf_counter() - spent
    running = None
    model.train()
    stopped = "steps"
    while step < cfg.steps:
        elapsed = time.perf_counter() - t_start
        if budget is not None and elapsed >= budget:
            stopped = "minutes"
            break
        set_lr(opt, budget_lr(step, elapsed, cfg.steps, budget, cfg.lr, cfg.warmup))
        x, flow, target, mask, burn = batches()
        loss = sequence_loss(model, x, flow, target, mask, burn)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        lv = float(loss.detach()) * 255.0 ** 2
        running = lv if running is None else 0.95 * running + 0.05 * lv
        bar.update(step, loss=running)
        with log_path.open("a") as f:
            f.write(f"{step},{time.perf_counter() - t_start:.1f},{lv:.3f}\n")
        if step % cfg.checkpoint_every == 0:
            _checkpoint(model, opt, ck_dir, step, time.perf_counter() - t_start, cfg)
    bar.close()
    seconds = time.perf_counter() - t_start
    _checkpoint(model, opt, ck_dir, step, seconds, cfg)
    model.eval()
    out = out_dir / "temporal-student.safetensors"
    save_model(model, out, extra_meta={"route": "n2n-future" if not cfg.teacher else f"n2n-future+{cfg.teacher}",
                                       "future_frames": FUTURE, "steps": step})
    summary = {"steps": step, "seconds": round(seconds, 1), "stopped_by": stopped, "route": route_name(cfg),
               "future_frames": FUTURE, "clips": len(seqs), "frames": int(sum(len(s.noisy) for s in seqs)),
               **({"noise_calibration": noise.as_dict()} if noise is not None else {}),
               "final_loss_255": None if running is None else round(running, 3)}
    write_manifest(out, kind="weights", made_by=command, source=source or {},
                   settings={"model_kind": "temporal", "arch": model.arch, **asdict(cfg)}, extra=summary,
                   tools=("torch",))
    write_json_atomic(out_dir / "temporal-train.json", {"config": asdict(cfg), **summary})
    return out, summary


def _checkpoint(model, opt, ck_dir: Path, step: int, seconds: float, cfg: TemporalConfig) -> None:
    import torch

    from hushframe.core.atomic import atomic_path, write_json_atomic

    from ..weights import save_model

    save_model(model, ck_dir / "last.safetensors")
    with atomic_path(ck_dir / "last-optimizer.pt") as tmp:
        torch.save(opt.state_dict(), str(tmp))
    write_json_atomic(ck_dir / "last.json", {"step": step, "seconds": seconds, "config": asdict(cfg)})
