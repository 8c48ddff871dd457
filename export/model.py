"""The policy network: FiLM-conditioned conv encoders -> a small transformer -> a chunk of continuous actions.

    images (1, H, W, 3) per camera ─ conv stages, each FiLM(instruction) ─┐ image tokens (+ 2-D position)
    state (1, S) ─ linear ───────────────────────────────────────────────┤ state token
    instruction (1, E) ─ linear ─────────────────────────────────────────┤ instruction token
    T learned action queries ────────────────────────────────────────────┘ -> transformer -> head -> (1, T, D)

FiLM in every conv stage (as in RT-1) lets the instruction pick what the image features keep ("the red block");
the action queries read the scene by attention and the head regresses normalised actions (trained with L1, as
OpenVLA-OFT). Edge-friendly ops only: Conv/BatchNorm/ReLU, Linear, LayerNorm, softmax attention written out (no
fused kernels), GELU (tanh). Static shapes; the graph's inputs follow docs/BUNDLE.md (NHWC images) and it returns
{"actions": x} so litert-torch names the output. One config spans ~1 M to a few hundred million parameters.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

PRESETS = {  # name -> size fields; parameter counts are for one 96x96 camera, 384-d instructions, T=8, D=4
    "nano": dict(channels=(16, 32, 48, 64), width=64, depth=2, heads=2),  # ~0.25 M
    "micro": dict(channels=(24, 48, 64, 96), width=96, depth=3, heads=4),  # ~0.6 M
    "small": dict(channels=(32, 64, 96, 128), width=128, depth=4, heads=4),  # ~1.3 M
    "base": dict(channels=(48, 96, 192, 256), width=320, depth=6, heads=8),  # ~8.7 M
    "large": dict(channels=(64, 128, 256, 384), width=512, depth=8, heads=8),  # ~28 M
    "xl": dict(channels=(96, 192, 384, 768), width=1024, depth=16, heads=16),  # ~220 M
}


@dataclass(frozen=True)
class PolicyConfig:
    cameras: tuple[tuple[str, int, int], ...]  # (name, height, width) per camera, px
    state_dim: int
    action_dim: int
    chunk_length: int  # T
    embedding_dim: int = 384  # instruction embedding E (all-MiniLM-L6-v2)
    channels: tuple[int, ...] = (32, 64, 96, 128)  # conv stages, each stride 2
    width: int = 128  # transformer model width
    depth: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    dropout: float = 0.0
    # Residual actions: per action dimension, the state dimension it is a position of (-1: none). The head then
    # predicts the displacement from the measured state; `set_residual_stats` bakes the affine map between the
    # two normalisations into the graph. Empty: plain absolute actions (e.g. ee_delta, already a displacement).
    residual: tuple[int, ...] = ()

    def __post_init__(self):
        if not self.cameras:
            raise ValueError("cameras is empty; expected at least one (name, height, width)")
        for name, h, w in self.cameras:
            if min(h, w) < 2 ** len(self.channels):
                raise ValueError(f"camera {name!r} is {h}x{w} px; {len(self.channels)} stride-2 stages need at "
                                 f"least {2 ** len(self.channels)} px per side")
        if self.residual and (len(self.residual) != self.action_dim or
                              any(not -1 <= i < self.state_dim for i in self.residual)):
            raise ValueError(f"residual must give, for each of the {self.action_dim} action dims, a state index in "
                             f"[-1, {self.state_dim}), got {self.residual}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")
        for field in ("state_dim", "action_dim", "chunk_length", "embedding_dim", "width", "depth"):
            if getattr(self, field) < 1:
                raise ValueError(f"{field} must be >= 1, got {getattr(self, field)}")

    @classmethod
    def preset(cls, name: str, **shape) -> "PolicyConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown model size {name!r}; expected one of {list(PRESETS)}")
        return cls(**shape, **PRESETS[name])

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> "PolicyConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"policy config has unknown field(s) {unknown}; expected {sorted(known)}")
        d = dict(d)
        d["cameras"] = tuple(tuple(c) for c in d["cameras"])
        d["channels"] = tuple(d.get("channels", cls.channels))
        d["residual"] = tuple(d.get("residual", ()))
        return cls(**d)


class FiLMConvStage(nn.Module):
    """conv 3x3 stride 2 -> BatchNorm -> FiLM(instruction) -> ReLU. FiLM starts as the identity (RT-1)."""

    def __init__(self, c_in: int, c_out: int, embedding_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.film = nn.Linear(embedding_dim, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.film(e).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)  # (B, C, 1, 1) each
        return F.relu(self.norm(self.conv(x)) * (1.0 + gamma) + beta)


class CameraEncoder(nn.Module):
    """(B, H, W, 3) image -> (B, h·w, width) tokens with a learned 2-D position embedding."""

    def __init__(self, height: int, width: int, channels: tuple[int, ...], embedding_dim: int, d_model: int):
        super().__init__()
        c_ins = (3,) + tuple(channels[:-1])
        self.stages = nn.ModuleList(FiLMConvStage(a, b, embedding_dim) for a, b in zip(c_ins, channels))
        h, w = height, width
        for _ in channels:
            h, w = (h + 1) // 2, (w + 1) // 2
        self.grid = (h, w)
        self.proj = nn.Linear(channels[-1], d_model)
        self.pos = nn.Parameter(torch.randn(1, h * w, d_model) * 0.02)

    def forward(self, image: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2)  # NHWC (the bundle contract) -> NCHW
        for stage in self.stages:
            x = stage(x, e)
        x = x.flatten(2).transpose(1, 2)  # (B, h·w, C)
        return self.proj(x) + self.pos


class Block(nn.Module):
    """Pre-norm transformer block with attention written out (exports to ONNX and TFLite without fused ops)."""

    def __init__(self, d: int, heads: int, mlp_ratio: int, dropout: float):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.out = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.mlp = nn.Sequential(nn.Linear(d, mlp_ratio * d), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_ratio * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).reshape(b, n, 3, self.heads, self.dh).permute(2, 0, 3, 1, 4)
        att = torch.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.dh)), dim=-1)  # (B, h, N, N)
        y = (att @ v).transpose(1, 2).reshape(b, n, d)
        x = x + self.drop(self.out(y))
        return x + self.drop(self.mlp(self.ln2(x)))


class Policy(nn.Module):
    def __init__(self, cfg: PolicyConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.width
        self.cameras = nn.ModuleDict({name: CameraEncoder(h, w, cfg.channels, cfg.embedding_dim, d)
                                      for name, h, w in cfg.cameras})
        self.state_proj = nn.Linear(cfg.state_dim, d)
        self.instruction_proj = nn.Linear(cfg.embedding_dim, d)
        self.type_embed = nn.Parameter(torch.randn(1, 2, d) * 0.02)  # state token, instruction token
        self.queries = nn.Parameter(torch.randn(1, cfg.chunk_length, d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.heads, cfg.mlp_ratio, cfg.dropout) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, cfg.action_dim)
        # Residual map (normalised state -> normalised action): actions = head + state[idx] * scale + shift.
        # Elementwise Gather/Mul/Add: int8 ONNX keeps them in float (only Conv/MatMul/Gemm are quantised).
        idx = [max(i, 0) for i in cfg.residual] or [0] * cfg.action_dim
        self.register_buffer("res_index", torch.tensor(idx, dtype=torch.long))
        self.register_buffer("res_scale", torch.zeros(cfg.action_dim))
        self.register_buffer("res_shift", torch.zeros(cfg.action_dim))

    def set_residual_stats(self, normalization: dict) -> None:
        """Bake the residual map from the bundle's normalisation (state and action mean/std, action mask)."""
        if not self.cfg.residual:
            return
        st, ac = normalization["state"], normalization["action"]
        for d, i in enumerate(self.cfg.residual):
            if i < 0:
                continue
            if ac["mask"][d]:  # normalised action: (s_raw - mean_a) / std_a with s_raw = z * std_s + mean_s
                self.res_scale[d] = st["std"][i] / ac["std"][d]
                self.res_shift[d] = (st["mean"][i] - ac["mean"][d]) / ac["std"][d]
            else:  # passed through in robot units
                self.res_scale[d] = st["std"][i]
                self.res_shift[d] = st["mean"][i]

    @property
    def input_names(self) -> list[str]:
        return [f"image_{name}" for name, _, _ in self.cfg.cameras] + ["state", "instruction"]

    def features(self, state: torch.Tensor, instruction: torch.Tensor, images: list[torch.Tensor]):
        """Token sequence after the transformer, (B, N, width): for feature distillation."""
        b = state.shape[0]
        tokens = [enc(img, instruction) for enc, img in zip(self.cameras.values(), images)]
        tokens.append((self.state_proj(state) + self.type_embed[:, 0]).unsqueeze(1))
        tokens.append((self.instruction_proj(instruction) + self.type_embed[:, 1]).unsqueeze(1))
        tokens.append(self.queries.expand(b, -1, -1))
        x = torch.cat(tokens, dim=1)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)

    def forward(self, *args, **kwargs) -> dict[str, torch.Tensor]:
        """Inputs by name or position in `input_names` order; returns {"actions": (B, T, D)} normalised."""
        named = dict(zip(self.input_names, args))
        named.update(kwargs)
        images = [named[f"image_{name}"] for name, _, _ in self.cfg.cameras]
        state = named["state"]
        x = self.features(state, named["instruction"], images)
        return {"actions": self.head(x[:, -self.cfg.chunk_length:]) + self.residual_base(state)}

    def residual_base(self, state: torch.Tensor) -> torch.Tensor:
        """(B, 1, D) the measured state in normalised action units (zeros without residual actions)."""
        return (state[:, self.res_index] * self.res_scale + self.res_shift).unsqueeze(1)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
