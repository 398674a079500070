"""Route (a) of issue 26: a temporal AT-BSN teacher learned from a camera's noisy clips, labelling them
for the causal student.

    clips -> neighbour_stack: each frame's neighbours t-2, t-1, t+1, t+2 moved onto it along the motion,
             with a mask where the move is trustworthy (the N2N targets' offline flow, temporal.py)
          -> train_teacher: || T(I_t; N_t, k_train) - I_t ||^2 over noisy frames only (models/temporal_teacher.py:
             blind in I_t, so I_t's own noise is no target it can copy; N_t's noise is independent of it)
          -> label_clips: T at k_infer on every frame, written as a labels folder (teachers/labels.py) that
             ``hushframe adapt --temporal --teacher labels:DIR`` blends into the student's targets like any
             frame teacher's

Why a label and not the target itself: T sees two frames on each side and the frame around its blind
spot, so its output holds much less noise than a frame-to-frame target (one or two frames' noise), at the
cost of whatever T smooths. The student stays causal; only its targets are non-causal.

One caveat the future-only targets of route (b) do not have: a label is built partly from frames t-1
and t-2, whose noise the causal student's state already holds, so what noise a label keeps from them
the student is rewarded for keeping too. The teacher's averaging makes that a small share of the label's
noise; the benchmark measures the result, not this argument.

L2, not AT-BSN's L1: the student's loss is L2, and a blind-spot L2 loss is minimised by the clean frame's
mean given what T sees (Noise2Void), which is what a label should be.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .temporal import TemporalTrainingError

LABELS_SPEC = "temporal-atbsn"   # the teacher name a labels folder records


@dataclass
class TeacherConfig:
    width: int = 16
    levels: int = 3
    context_width: int = 24
    train_blind_spot: int = 5      # blocks of 2x2 pixels (models/temporal_teacher.py): 10x10 px unseen
    infer_blind_spot: int = 1      # the paper's tunable blind spot, smaller at inference: 1 scored best on the
                                   # tuning split (k 1-7 within 0.4 dB; BENCHMARKS.md "video-routes-moderate-a")
    steps: int = 20000             # a ceiling: the minutes budget ends a CPU run first
    minutes: float | None = 8.0
    batch: int = 8
    crop: int = 48
    lr: float = 5e-4
    warmup: int = 100
    seed: int = 0
    threads: int | None = None


def neighbour_stack(frames, progress=None) -> np.ndarray:
    """T x H x W x 4n uint8: for each frame, its neighbours (NEIGHBOUR_OFFSETS) moved onto it, RGB + mask
    (255 where the move passed the forward-backward and range checks, else RGB 0 and mask 0)."""
    import cv2

    from ..models.temporal_teacher import NEIGHBOUR_OFFSETS
    from .temporal import _warp_consistent

    n = np.stack(frames)
    t_len, h, w = n.shape[:3]
    grays = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in n]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    out = np.zeros((t_len, h, w, 4 * len(NEIGHBOUR_OFFSETS)), np.uint8)
    for t in range(t_len):
        for j, k in enumerate(NEIGHBOUR_OFFSETS):
            if 0 <= t + k < t_len:
                warped, ok = _warp_consistent(n[t + k], grays[t], grays[t + k], gx, gy)
                out[t, ..., 4 * j:4 * j + 3] = np.where(ok[..., None], np.clip(np.rint(warped), 0, 255), 0)
                out[t, ..., 4 * j + 3] = ok * 255
        if progress is not None:
            progress(t + 1, t_len)
    return out


def _to_tensor(a: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255.0


class _Crops:
    """Random crops of (frame, neighbours), flipped and transposed jointly (the neighbours are aligned to
    the frame pixel for pixel, so any symmetry of the square applies to both)."""

    def __init__(self, clips, cfg: TeacherConfig):
        self.clips = [(n, nb) for n, nb in clips if min(n.shape[1:3]) >= cfg.crop]
        if not self.clips:
            raise TemporalTrainingError(f"no clip has frames of at least {cfg.crop}x{cfg.crop} (--crop)")
        w = np.array([len(n) for n, _ in self.clips], np.float64)
        self.p = w / w.sum()
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)

    def __call__(self):
        c, rng = self.cfg.crop, self.rng
        xs, nbs = [], []
        for _ in range(self.cfg.batch):
            n, nb = self.clips[rng.choice(len(self.clips), p=self.p)]
            t = int(rng.integers(0, len(n)))
            y0, x0 = int(rng.integers(0, n.shape[1] - c + 1)), int(rng.integers(0, n.shape[2] - c + 1))
            a, b = n[t, y0:y0 + c, x0:x0 + c], nb[t, y0:y0 + c, x0:x0 + c]
            if rng.random() < 0.5:
                a, b = a[:, ::-1], b[:, ::-1]
            if rng.random() < 0.5:
                a, b = a[::-1], b[::-1]
            if rng.random() < 0.5:
                a, b = a.transpose(1, 0, 2), b.transpose(1, 0, 2)
            xs.append(a)
            nbs.append(b)
        return _to_tensor(np.stack(xs)), _to_tensor(np.stack(nbs))


def build_teacher(cfg: TeacherConfig):
    from ..models.registry import create_model

    return create_model("temporal_atbsn", width=cfg.width, levels=cfg.levels, context_width=cfg.context_width,
                        blind_spot=cfg.infer_blind_spot)


def train_teacher(clips, out_dir, cfg: TeacherConfig, *, progress_style: str = "auto", source: dict | None = None):
    """``clips``: [(noisy T x H x W x 3 uint8, neighbour_stack)]; writes ``out_dir/temporal-teacher.safetensors``
    (+ manifest, ``temporal-teacher.json``) and returns (path, summary). Runs to ``steps`` or ``minutes``."""
    import torch

    from hushframe.core.atomic import write_json_atomic
    from hushframe.core.manifest import write_manifest
    from hushframe.core.progress import Progress

    from ..weights import save_model
    from .schedule import budget_lr, set_lr

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    torch.manual_seed(cfg.seed)
    model = build_teacher(cfg)
    crops = _Crops(clips, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    budget = cfg.minutes * 60.0 if cfg.minutes else None
    bar = Progress("teacher", cfg.steps, style=progress_style, noun="step")
    t0 = time.perf_counter()
    step, running, stopped = 0, None, "steps"
    model.train()
    while step < cfg.steps:
        elapsed = time.perf_counter() - t0
        if budget is not None and elapsed >= budget:
            stopped = "minutes"
            break
        set_lr(opt, budget_lr(step, elapsed, cfg.steps, budget, cfg.lr, cfg.warmup))
        x, nb = crops()
        loss = torch.mean((model(x, nb, blind_spot=cfg.train_blind_spot) - x) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        lv = float(loss.detach()) * 255.0 ** 2
        running = lv if running is None else 0.95 * running + 0.05 * lv
        bar.update(step, loss=running)
    bar.close()
    model.eval()
    out = out_dir / "temporal-teacher.safetensors"
    save_model(model, out, extra_meta={"route": "temporal-atbsn", "steps": step})
    summary = {"steps": step, "seconds": round(time.perf_counter() - t0, 1), "stopped_by": stopped,
               "frames": int(sum(len(n) for n, _ in clips)), "final_loss_255": None if running is None else round(running, 3)}
    write_manifest(out, kind="weights", made_by="temporal teacher (route a)", source=source or {},
                   settings={"model_kind": "temporal-teacher", "arch": model.arch, **asdict(cfg)}, extra=summary,
                   tools=("torch",))
    write_json_atomic(out_dir / "temporal-teacher.json", {"config": asdict(cfg), **summary})
    return out, summary


def label_clip(model, noisy: np.ndarray, nb: np.ndarray, blind_spots) -> list[list[np.ndarray]]:
    """The teacher's uint8 output on every frame of one clip, for each blind spot: [k][t] -> H x W x 3.
    Frames with an odd side are edge-padded to even and cropped back (the pad stays in the edge pixel's block,
    which is blind for that pixel)."""
    import torch
    import torch.nn.functional as F

    t_len, h, w = noisy.shape[:3]
    u = model.unshuffle
    ph, pw = (-h) % u, (-w) % u
    out = [[] for _ in blind_spots]
    with torch.no_grad():
        for t in range(t_len):
            x, n = _to_tensor(noisy[t:t + 1]), _to_tensor(nb[t:t + 1])
            if ph or pw:
                x, n = F.pad(x, (0, pw, 0, ph), mode="replicate"), F.pad(n, (0, pw, 0, ph), mode="replicate")
            for i, y in enumerate(model.forward_many(x, n, list(blind_spots))):
                y = y[0, :, :h, :w].clamp(0, 1).permute(1, 2, 0).numpy()
                out[i].append(np.rint(y * 255).astype(np.uint8))
    return out


class _Precomputed:
    """What teachers/labels.write_labels asks of a teacher, for labels already computed clip by clip."""

    def __init__(self, spec: str, labels: dict):
        self.spec, self._labels = spec, labels

    def check(self) -> None:
        pass

    def label_image(self, img):
        from ..teachers.labels import image_id

        return self._labels[image_id(img)]


def write_clip_labels(model, clips, folder, blind_spot: int, *, log=print) -> Path:
    """Label every frame of ``clips`` ([(noisy, neighbour_stack)]) at ``blind_spot`` into a labels folder
    (``--teacher labels:DIR``); the folder records the teacher and its blind spot."""
    from ..teachers.labels import image_id, write_labels

    labels, images = {}, []
    for noisy, nb in clips:
        for img, lab in zip(noisy, label_clip(model, noisy, nb, [blind_spot])[0]):
            labels[image_id(img)] = lab
            images.append(img)
    write_labels(images, _Precomputed(f"{LABELS_SPEC}:k={blind_spot}", labels), Path(folder), log=log)
    return Path(folder)

