"""The optimisation loop shared by `vla-lite train` (ground truth) and `vla-lite distill` (teacher + ground truth).

Loss, in normalised action units over the chunk's real (unpadded) steps: L1 to the ground truth (OpenVLA-OFT);
when distilling, alpha · L1 to the teacher's chunk + (1 - alpha) · L1 to the ground truth, plus optionally
feature_weight · MSE between the student's action-query features (linearly projected) and the teacher's.
AdamW, linear warm-up then cosine decay, gradient clipping. Runs on CPU or GPU; under `torchrun` (WORLD_SIZE > 1)
each process draws its own batches and DistributedDataParallel averages gradients (gloo on CPU, nccl on GPU);
rank 0 evaluates, shows progress and writes checkpoints.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from vla_lite.progress import progress_bar

# Std per dimension of the noise on unit instruction embeddings in training (trainset.TrainSet.batch): 0.04 in 384-d
# is a perturbation of norm ~0.8, the distance of an unseen rewording from its meaning's training phrasings.
INSTRUCTION_NOISE = 0.0


@dataclass(frozen=True)
class FitConfig:
    steps: int = 3000
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    grad_clip: float = 1.0
    shift_px: int = 4  # random-shift augmentation (DrQ), px
    instruction_noise: float = INSTRUCTION_NOISE  # per-dimension std on the unit instruction embedding (0: off)
    eval_every: int = 500
    seed: int = 0
    alpha: float = 0.5  # distillation: weight of the teacher term
    feature_weight: float = 0.0  # distillation: weight of the feature term (0: off)
    schedule_start: int = 0  # the step warm-up and cosine decay count from (a warm-started model: its step)

    def __post_init__(self):
        for name in ("steps", "batch", "eval_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.schedule_start < self.steps:
            raise ValueError(f"schedule_start must be in [0, steps={self.steps}), got {self.schedule_start}")
        if not 0.0 <= self.instruction_noise <= 1.0:
            raise ValueError(f"instruction_noise must be in [0, 1] (std per dimension of a unit vector), got "
                             f"{self.instruction_noise!r}")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed when launched by torchrun."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        import torch
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if world > 1 else (0, 1)


def masked_l1(pred, target, mask):
    """Mean |pred - target| over the (B, T) steps where mask is true, all D dimensions."""
    m = mask.unsqueeze(-1).to(pred.dtype)
    return ((pred - target).abs() * m).sum() / (m.sum() * pred.shape[-1]).clamp(min=1.0)


def lr_at(step: int, cfg: FitConfig) -> float:
    step, steps = step - cfg.schedule_start, cfg.steps - cfg.schedule_start
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, steps - cfg.warmup)
    return cfg.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))


def fit(model, ts, train_rows, eval_rows, cfg: FitConfig, *, teacher=None, start_step: int = 0, optimizer=None,
        on_checkpoint=None, progress: bool = True, device: str = "cpu") -> dict:
    """Train `model` in place on TrainSet rows; returns the history (losses, timings) as JSON-able data.
    teacher: a `TeacherTargets` (precomputed chunks/features per row) to distil from, or None."""
    import torch

    rank, world = distributed()
    rng = np.random.default_rng([cfg.seed, rank])
    torch.manual_seed(cfg.seed)
    model.to(device).train()
    projector = None
    if teacher is not None and cfg.feature_weight > 0:
        projector = torch.nn.Linear(model.cfg.width, teacher.features.shape[-1]).to(device)
    params = list(model.parameters()) + (list(projector.parameters()) if projector is not None else [])
    optimizer = optimizer or torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model)
    names = list(ts.images) + ["state", "instruction"]
    history = {"config": asdict(cfg), "world_size": world, "train_loss": [], "eval_loss": [], "lr": []}
    bar = progress_bar(cfg.steps, progress and rank == 0, initial=start_step, unit="step")
    t0, running = time.perf_counter(), None
    for step in range(start_step, cfg.steps):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, cfg)
        rows = rng.choice(train_rows, cfg.batch)
        b = {k: v.to(device) for k, v in ts.batch(rows, rng, augment=True, shift_px=cfg.shift_px,
                                                      instruction_noise=cfg.instruction_noise).items()}
        loss = _loss(net, model, b, names, rows, teacher, projector, cfg, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        optimizer.step()
        value = float(loss.detach())
        running = value if running is None else 0.98 * running + 0.02 * value
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{running:.4f}")
        last = step + 1 == cfg.steps
        if (step + 1) % cfg.eval_every == 0 or last:
            history["train_loss"].append([step + 1, round(running, 6)])
            history["lr"].append([step + 1, lr_at(step, cfg)])
            if rank == 0 and len(eval_rows):
                history["eval_loss"].append([step + 1, round(evaluate_loss(model, ts, eval_rows, device), 6)])
                model.train()
            if rank == 0 and on_checkpoint is not None:
                on_checkpoint(step + 1, optimizer, history)
    if bar is not None:
        bar.close()
    history["seconds"] = round(time.perf_counter() - t0, 2)
    history["samples_per_s"] = round((cfg.steps - start_step) * cfg.batch * world / max(1e-9, history["seconds"]), 1)
    model.eval()
    return history


def _loss(net, model, b, names, rows, teacher, projector, cfg, device):
    import torch

    inputs = {k: b[k] for k in names}
    if teacher is None:
        return masked_l1(net(**inputs)["actions"], b["actions"], b["action_mask"])
    target = torch.from_numpy(teacher.actions[rows]).to(device)
    full = torch.ones_like(b["action_mask"])
    if projector is None:
        pred = net(**inputs)["actions"]
        return cfg.alpha * masked_l1(pred, target, full) + (1 - cfg.alpha) * masked_l1(pred, b["actions"],
                                                                                        b["action_mask"])
    images = [inputs[k] for k in names[:-2]]
    feats = model.features(inputs["state"], inputs["instruction"], images)[:, -model.cfg.chunk_length:]
    pred = model.head(feats) + model.residual_base(inputs["state"])
    t_feats = torch.from_numpy(teacher.features[rows]).to(device)
    return (cfg.alpha * masked_l1(pred, target, full) + (1 - cfg.alpha) * masked_l1(pred, b["actions"],
                                                                                     b["action_mask"])
            + cfg.feature_weight * torch.nn.functional.mse_loss(projector(feats), t_feats))


def evaluate_loss(model, ts, rows, device: str = "cpu", batch: int = 256) -> float:
    """Masked L1 to the ground truth on rows, no augmentation."""
    import torch

    model.eval()
    names = list(ts.images) + ["state", "instruction"]
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            b = {k: v.to(device) for k, v in ts.batch(rows[i:i + batch]).items()}
            n = len(rows[i:i + batch])
            total += float(masked_l1(model(**{k: b[k] for k in names})["actions"], b["actions"],
                                     b["action_mask"])) * n
            count += n
    return total / max(1, count)


@dataclass
class TeacherTargets:
    actions: np.ndarray  # (M, T, D) float32: the teacher's chunk for every TrainSet row, normalised
    features: np.ndarray | None = None  # (M, T, width_teacher) action-query features, when feature distillation


def teacher_targets(teacher, ts, with_features: bool = False, batch: int = 256, device: str = "cpu",
                    progress: bool = False) -> TeacherTargets:
    """Run a teacher Policy over every row once (no augmentation)."""
    import torch

    teacher.to(device).eval()
    names = list(ts.images) + ["state", "instruction"]
    acts, feats = [], []
    rows = np.arange(len(ts))
    bar = progress_bar(len(rows), progress, unit="row")
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            b = {k: v.to(device) for k, v in ts.batch(rows[i:i + batch]).items()}
            images = [b[k] for k in names[:-2]]
            f = teacher.features(b["state"], b["instruction"], images)[:, -teacher.cfg.chunk_length:]
            acts.append((teacher.head(f) + teacher.residual_base(b["state"])).cpu().numpy())
            if with_features:
                feats.append(f.cpu().numpy().astype(np.float32))
            if bar is not None:
                bar.update(len(rows[i:i + batch]))
    if bar is not None:
        bar.close()
    return TeacherTargets(np.concatenate(acts).astype(np.float32), np.concatenate(feats) if with_features else None)
