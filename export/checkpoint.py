"""Checkpoints: one safetensors file that describes itself (no pickle).

Tensors: the model's state dict under `model.`, and for resuming the AdamW moments under `optim.<i>.exp_avg` /
`optim.<i>.exp_avg_sq` (i = parameter index in model.parameters() order). Header metadata (JSON strings):
`format` ("vla-lite-checkpoint/1"), `config` (PolicyConfig), `normalization` (calib stats the model was trained
with), `train` (step, epoch, optimizer hyper-parameters, losses, data provenance), `role` ("teacher"/"student").

Loading checks the format, the config, and every tensor name and shape against the model the config builds, and
raises CheckpointError naming what is wrong (a truncated file, a tensor missing or of the wrong shape, a config
that does not match).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vla_lite.atomic import atomic_path

from .model import Policy, PolicyConfig

FORMAT = "vla-lite-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: not one, damaged, or not matching its own config."""


@dataclass
class Checkpoint:
    model: Policy
    config: PolicyConfig
    normalization: dict  # {"state": {...}, "action": {...}} as in the bundle manifest
    train: dict  # step, epoch, ... (free-form JSON)
    role: str
    optimizer_state: dict  # tensor name -> tensor (optim.*), for resume
    path: Path

    @property
    def cameras(self) -> tuple:
        """The CameraSpecs the policy was trained on (train["cameras"], the manifest's JSON form), in its input
        order; ManifestInvalid naming a bad entry."""
        from vla_lite.bundle.camera_spec import camera_from_dict

        return tuple(camera_from_dict(c, f"{self.path.name}: train.cameras[{i}]")
                     for i, c in enumerate(self.train["cameras"]))


def save_checkpoint(path, model: Policy, normalization: dict, train: dict, role: str = "student",
                    optimizer=None) -> Path:
    """Write atomically (vla_lite.atomic)."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {f"model.{k}": v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if optimizer is not None:
        index = {id(p): i for i, p in enumerate(model.parameters())}
        for group in optimizer.param_groups:
            for p in group["params"]:
                st = optimizer.state.get(p, {})
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in st:
                        tensors[f"optim.{index[id(p)]}.{key}"] = st[key].detach().contiguous().cpu()
                if "step" in st:
                    tensors[f"optim.{index[id(p)]}.step"] = torch.as_tensor(st["step"], dtype=torch.float32).reshape(1)
    meta = {"format": FORMAT, "config": model.cfg.to_json(), "normalization": json.dumps(normalization),
            "train": json.dumps(train), "role": role}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_checkpoint(path) -> Checkpoint:
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint file at {str(path)!r}")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({exc}); truncated or not a "
                              "checkpoint?") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} has format {meta.get('format')!r}; expected {FORMAT!r} (written by "
                              "vla-lite train/distill)")
    try:
        config = PolicyConfig.from_dict(json.loads(meta["config"]))
        normalization = json.loads(meta["normalization"])
        train = json.loads(meta.get("train", "{}"))
    except (KeyError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: checkpoint metadata is damaged or incomplete: {exc}") from exc
    model = Policy(config)
    expected = model.state_dict()
    weights = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    if not config.residual:  # checkpoints from before residual actions: their (inactive) buffers are the defaults
        for k in ("res_index", "res_scale", "res_shift"):
            weights.setdefault(k, expected[k])
    missing = sorted(set(expected) - set(weights))
    unexpected = sorted(set(weights) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not match the config it carries: missing {missing[:5]}"
                              f"{'...' if len(missing) > 5 else ''}, unexpected {unexpected[:5]}"
                              f"{'...' if len(unexpected) > 5 else ''}")
    for k, v in expected.items():
        if tuple(weights[k].shape) != tuple(v.shape):
            raise CheckpointError(f"{path}: tensor {k!r} has shape {tuple(weights[k].shape)}; the config implies "
                                  f"{tuple(v.shape)}")
    model.load_state_dict(weights)
    model.eval()
    optim = {k: v for k, v in tensors.items() if k.startswith("optim.")}
    return Checkpoint(model, config, normalization, train, meta.get("role", "student"), optim, path)


def restore_optimizer(optimizer, model: Policy, optimizer_state: dict) -> None:
    """Put saved AdamW moments back (resume). Parameters without saved state start fresh."""
    params = list(model.parameters())
    for i, p in enumerate(params):
        if f"optim.{i}.exp_avg" in optimizer_state:
            optimizer.state[p] = {"exp_avg": optimizer_state[f"optim.{i}.exp_avg"].clone(),
                                  "exp_avg_sq": optimizer_state[f"optim.{i}.exp_avg_sq"].clone(),
                                  "step": optimizer_state.get(f"optim.{i}.step", None)}
            step = optimizer.state[p]["step"]
            import torch
            optimizer.state[p]["step"] = torch.tensor(float(step.item()) if step is not None else 0.0)


def nothing_to_resume(command: str, out, why: str, as_json: bool) -> int:
    """A --resume of a finished run: say so, and print its kept summary (the .json beside the checkpoint, without
    its loss history) as the run printed it. Returns the exit code, 0."""
    import json
    import sys

    print(f"vla-lite {command}: {out} {why}; nothing to resume", file=sys.stderr)
    summary = Path(out).with_suffix(".json")
    if as_json and summary.exists():
        print(json.dumps({k: v for k, v in json.loads(summary.read_text()).items() if k != "history"}, indent=1))
    return 0
