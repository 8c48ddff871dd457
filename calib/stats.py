"""Normalisation statistics over a dataset, streamed: exactly what the bundle manifest's `normalization` holds.

    stats = DatasetStats(StatsConfig(mask_patterns=("*gripper*",)))
    for ep in episodes: stats.add(ep.state, ep.actions)      # or compute_normalization(episodes)
    d = stats.result(action_names)   # {"state": {mean, std, q01, q99}, "action": {mean, std, q01, q99, mask}}
    save_stats("stats.json", d, stats.details(action_names))

mean/std: per dimension, population std (ddof 0, as np.std), float64, Chan et al.'s parallel update so chunks and
workers merge exactly. q01/q99: `QuantileSketch` (exact up to a row bound, then a bounded-memory histogram with a
stated error bound; see calib/quantiles.py). A std below `std_floor` (a constant dimension) is raised to it: the
z-score divides by it and the manifest requires std > 0. Action dimensions whose name matches a mask pattern get
mask false and identity statistics (mean 0, std 1): the runtime passes them through unchanged, so the model
predicts them in robot units, and code that ignores the mask still agrees. Their q01/q99 stay the data's.
"""

from __future__ import annotations

import fnmatch
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from vla_lite.atomic import atomic_write_json

from .quantiles import QuantileSketch


@dataclass(frozen=True)
class StatsConfig:
    std_floor: float = 1e-3  # robot units (rad, m); the smallest std a z-score may divide by
    mask_patterns: tuple[str, ...] = ()  # fnmatch patterns on action names, case-insensitive, e.g. ("*gripper*",)
    exact_limit: int = 250_000  # rows kept for exact quantiles; beyond, histograms
    max_bins: int = 4096  # histogram bins per dimension (quantile error < 2 * range / (max_bins - 1))

    def __post_init__(self):
        if not (isinstance(self.std_floor, (int, float)) and self.std_floor > 0):
            raise ValueError(f"std_floor must be > 0 (a z-score divides by std), got {self.std_floor!r}")
        if isinstance(self.mask_patterns, str):
            object.__setattr__(self, "mask_patterns", (self.mask_patterns,))


class RunningMoments:
    """Count, mean and sum of squared deviations (M2) per dimension, float64; merge() is Chan's formula."""

    def __init__(self, dim: int):
        self.n, self.mean, self.m2 = 0, np.zeros(dim), np.zeros(dim)

    def update(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        if len(x):
            other = RunningMoments(x.shape[1])
            other.n, other.mean = len(x), x.mean(axis=0)
            other.m2 = ((x - other.mean) ** 2).sum(axis=0)  # two-pass within the chunk: no cancellation
            self.merge(other)

    def merge(self, other: "RunningMoments") -> "RunningMoments":
        if other.n:
            n = self.n + other.n
            delta = other.mean - self.mean
            self.mean = self.mean + delta * (other.n / n)
            self.m2 = self.m2 + other.m2 + delta ** 2 * (self.n * other.n / n)
            self.n = n
        return self

    @property
    def std(self) -> np.ndarray:
        return np.sqrt(self.m2 / self.n)  # population std (ddof 0)


class FeatureStats:
    """Moments and quantiles of one (N, K) feature."""

    def __init__(self, dim: int, config: StatsConfig):
        self.dim, self.moments = dim, RunningMoments(dim)
        self.sketch = QuantileSketch(dim, config.exact_limit, config.max_bins)

    def update(self, x: np.ndarray) -> None:
        self.moments.update(x)
        self.sketch.update(x)

    def merge(self, other: "FeatureStats") -> None:
        self.moments.merge(other.moments)
        self.sketch.merge(other.sketch)


class DatasetStats:
    """Accumulates state and action statistics over episodes; add() in any order, merge() partial results."""

    def __init__(self, config: StatsConfig = StatsConfig()):
        self.config = config
        self.state: FeatureStats | None = None
        self.action: FeatureStats | None = None
        self.episodes = 0

    def add(self, state: np.ndarray, actions: np.ndarray, where: str = "episode") -> None:
        """state (N, S), actions (N, D) in robot units; every value must be finite (screen episodes first)."""
        state, actions = np.asarray(state, np.float64), np.asarray(actions, np.float64)
        for name, a in (("state", state), ("actions", actions)):
            if a.ndim != 2:
                raise ValueError(f"{where}: {name} has shape {a.shape}; expected (N, K)")
            bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
            if len(bad):
                raise ValueError(f"{where}: {name} row {int(bad[0])} holds NaN/inf ({len(bad)} rows); statistics "
                                 "need finite data (drop such episodes with export.datasets.filter_episodes)")
        if self.state is None:
            self.state = FeatureStats(state.shape[1], self.config)
            self.action = FeatureStats(actions.shape[1], self.config)
        for name, a, f in (("state", state, self.state), ("actions", actions, self.action)):
            if a.shape[1] != f.dim:
                raise ValueError(f"{where}: {name} has {a.shape[1]} dimensions; earlier episodes had {f.dim}")
        self.state.update(state)
        self.action.update(actions)
        self.episodes += 1

    def add_episode(self, ep) -> None:
        """An export.datasets EpisodeData (or anything with .state, .actions)."""
        self.add(ep.state, ep.actions, where=getattr(ep, "key", "episode"))

    def merge(self, other: "DatasetStats") -> "DatasetStats":
        if other.state is None:
            return self
        if self.state is None:
            self.state, self.action = FeatureStats(other.state.dim, self.config), FeatureStats(other.action.dim,
                                                                                                 self.config)
        if (other.state.dim, other.action.dim) != (self.state.dim, self.action.dim):
            raise ValueError(f"cannot merge statistics of (S, D) = {(other.state.dim, other.action.dim)} into "
                             f"{(self.state.dim, self.action.dim)}")
        self.state.merge(other.state)
        self.action.merge(other.action)
        self.episodes += other.episodes
        return self

    def mask(self, action_names: Sequence[str] | None) -> list[bool]:
        """True: normalise this action dimension; False: a mask pattern matches its name."""
        d = self._require().action.dim
        if action_names is None:
            if self.config.mask_patterns:
                raise ValueError(f"mask patterns {list(self.config.mask_patterns)} need the action names; pass "
                                 "action_names (the manifest's action.names)")
            return [True] * d
        if len(action_names) != d:
            raise ValueError(f"{len(action_names)} action names {list(action_names)} for {d} action dimensions")
        pats = [p.lower() for p in self.config.mask_patterns]
        return [not any(fnmatch.fnmatchcase(n.lower(), p) for p in pats) for n in action_names]

    def result(self, action_names: Sequence[str] | None = None) -> dict:
        """The manifest's `normalization` object (plain lists of floats)."""
        self._require()
        mask = self.mask(action_names)
        state = self._stats(self.state)
        action = self._stats(self.action)
        action["mean"] = [m if keep else 0.0 for m, keep in zip(action["mean"], mask)]
        action["std"] = [s if keep else 1.0 for s, keep in zip(action["std"], mask)]
        return {"state": state, "action": {**action, "mask": mask}}

    def details(self, action_names: Sequence[str] | None = None) -> dict:
        """How the figures were obtained: rows, exactness and error bound of q01/q99, floored and masked dims,
        raw mean/std of every dimension (JSON-able)."""
        self._require()
        out = {"episodes": self.episodes,
               "config": {**asdict(self.config), "mask_patterns": list(self.config.mask_patterns)}}
        for name, f in (("state", self.state), ("action", self.action)):
            std = f.moments.std
            out[name] = {"rows": f.moments.n, "quantiles_exact": f.sketch.exact,
                         "quantile_error_bound": f.sketch.error_bound().tolist(),
                         "std_floored": np.flatnonzero(std < self.config.std_floor).tolist(),
                         "raw_mean": f.moments.mean.tolist(), "raw_std": std.tolist(),
                         "min": f.sketch.min.tolist(), "max": f.sketch.max.tolist()}
        out["action"]["unmasked_dims"] = [i for i, m in enumerate(self.mask(action_names)) if not m]
        return out

    def _stats(self, f: FeatureStats) -> dict:
        q01, q99 = f.sketch.quantile(0.01), f.sketch.quantile(0.99)
        return {"mean": f.moments.mean.tolist(), "std": np.maximum(f.moments.std, self.config.std_floor).tolist(),
                "q01": q01.tolist(), "q99": q99.tolist()}

    def _require(self) -> "DatasetStats":
        if self.state is None:
            raise ValueError("no data: add at least one episode before asking for statistics")
        return self


def compute_normalization(episodes: Iterable, config: StatsConfig = StatsConfig(),
                          action_names: Sequence[str] | None = None) -> tuple[dict, dict]:
    """One streamed pass: (the manifest's normalization dict, details). action_names default to the first
    episode's meta["action_names"] when mask patterns need them."""
    stats = DatasetStats(config)
    for ep in episodes:
        if action_names is None and config.mask_patterns:
            action_names = (getattr(ep, "meta", None) or {}).get("action_names")
        stats.add_episode(ep)
    return stats.result(action_names), stats.details(action_names)


def normalize_actions(x, stats) -> np.ndarray:
    """(..., D) robot units -> float32 `(x - mean) / std` where mask is true, x unchanged where false: the inverse
    of vla_lite.bundle.normalization.denormalize_actions (stats: the manifest's ActionStats or its dict)."""
    get = (lambda k: stats[k]) if isinstance(stats, dict) else (lambda k: getattr(stats, k))
    x = np.asarray(x, np.float64)
    mean, std, mask = np.asarray(get("mean")), np.asarray(get("std")), np.asarray(get("mask"), bool)
    if x.ndim == 0 or x.shape[-1] != len(mean):
        raise ValueError(f"actions have shape {x.shape}; expected (..., {len(mean)}) with D = action.dim")
    return np.where(mask, (x - mean) / std, x).astype(np.float32)


def to_normalization(d: dict):
    """The dict form -> the manifest's checked dataclasses (vla_lite.bundle.manifest.Normalization), with the
    manifest's own rules (lengths, std > 0, q01 <= q99, mask booleans); raises ManifestInvalid naming the field."""
    from vla_lite.bundle.manifest import parse_normalization

    if not isinstance(d, dict) or not all(isinstance(d.get(k), dict) for k in ("state", "action")):
        raise ValueError(f"expected {{'state': {{...}}, 'action': {{...}}}}, got {str(d)[:200]}")
    return parse_normalization(d, len(d["state"].get("mean") or []), len(d["action"].get("mean") or []))


def save_stats(path: str | os.PathLike, normalization: dict, details: dict | None = None) -> Path:
    """Strict JSON (no NaN): {"normalization": ..., "details": ...}; checked with the manifest's rules first."""
    to_normalization(normalization)
    return atomic_write_json(path, {"normalization": normalization, "details": details or {}})


def load_stats(path: str | os.PathLike) -> dict:
    """The normalization dict saved by save_stats (checked with the manifest's rules)."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: cannot read statistics ({exc}); expected JSON written by save_stats") from None
    if not isinstance(doc, dict) or "normalization" not in doc:
        raise ValueError(f"{path}: no 'normalization' key; expected JSON written by save_stats")
    to_normalization(doc["normalization"])
    return doc["normalization"]
