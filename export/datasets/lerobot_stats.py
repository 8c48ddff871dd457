"""Per-episode feature statistics as LeRobot (0.6) computes them for meta/episodes, and their aggregate (meta/stats.json).

Per feature: min, max, mean, std, count and the quantiles q01, q10, q50, q90, q99. Numbers are computed in the
values' own precision promoted to at least float32 (float32 state stays float32, int64 indices become float64, as
LeRobot's RunningQuantileStats does); quantiles come from a 5000-bin histogram spanning [min - 1e-10, max + 1e-10],
interpolated within the bin, so they match what LeRobot writes rather than numpy's exact quantiles. Images: up to
~100 frames sampled evenly, per-channel statistics over all their pixels divided by 255, shaped (3, 1, 1); frames
of 300 px or more are subsampled first (LeRobot's auto_downsample_height_width). Depth maps are not divided.
"""

from __future__ import annotations

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
BINS = 5000


def _quantile(hist: np.ndarray, edges: np.ndarray, target: float):
    cumsum = np.cumsum(hist)
    idx = int(np.searchsorted(cumsum, target))
    if idx == 0:
        return edges[0]
    if idx >= len(cumsum):
        return edges[-1]
    before, inside = cumsum[idx - 1], cumsum[idx] - cumsum[idx - 1]
    if inside == 0:
        return edges[idx]
    return edges[idx] + (target - before) / inside * (edges[idx + 1] - edges[idx])


def vector_stats(values: np.ndarray, count: int | None = None) -> dict[str, np.ndarray]:
    """values (N, K) (or (N,)) -> per-column statistics, each (K,); count: what to report as the sample count."""
    batch = np.asarray(values)
    batch = batch.reshape(len(batch), -1) if batch.ndim != 2 else batch
    batch = batch.astype(np.result_type(batch.dtype, np.float32), copy=False)
    n = len(batch)
    if n < 2:  # LeRobot: too few for quantiles, which are then the mean
        mean = batch.mean(axis=0)
        out = {"min": batch.min(axis=0), "max": batch.max(axis=0), "mean": mean, "std": batch.std(axis=0)}
        return {**out, "count": np.array([count or n]), **{_key(q): mean.copy() for q in QUANTILES}}
    lo, hi = batch.min(axis=0), batch.max(axis=0)
    mean, mean_sq = batch.mean(axis=0), (batch ** 2).mean(axis=0)
    out = {"min": lo, "max": hi, "mean": mean, "std": np.sqrt(np.maximum(0, mean_sq - mean ** 2)),
           "count": np.array([count or n])}
    columns = []
    for k in range(batch.shape[1]):
        edges = np.linspace(lo[k] - 1e-10, hi[k] + 1e-10, BINS + 1)
        hist, _ = np.histogram(batch[:, k], bins=edges)
        columns.append([_quantile(hist, edges, q * n) for q in QUANTILES])
    for j, q in enumerate(QUANTILES):
        out[_key(q)] = np.array([c[j] for c in columns], np.float64)
    return out


def _key(q: float) -> str:
    return f"q{int(q * 100):02d}"


def sample_rows(n: int) -> np.ndarray:
    """LeRobot's frame sample for image statistics: all of a short episode, else ~n^0.75 (100..10000) spread evenly."""
    k = n if n < 100 else max(100, min(int(n ** 0.75), 10_000))
    return np.round(np.linspace(0, n - 1, k)).astype(int)


def image_stats(frames: np.ndarray, scale: float = 255.0) -> dict[str, np.ndarray]:
    """frames (K, H, W, C) sampled images -> per-channel statistics shaped (C, 1, 1), divided by scale."""
    h, w = frames.shape[1:3]
    if max(h, w) >= 300:
        step = int(w / 150) if w > h else int(h / 150)
        frames = frames[:, ::step, ::step]
    stats = vector_stats(frames.reshape(-1, frames.shape[-1]), count=len(frames))
    return {k: v if k == "count" else (v / scale).reshape(-1, 1, 1) for k, v in stats.items()}


def aggregate(per_episode: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Episodes' statistics of one feature -> the dataset's (counts weight means, variances and quantiles)."""
    means = np.stack([s["mean"] for s in per_episode])
    variances = np.stack([s["std"] ** 2 for s in per_episode])
    counts = np.stack([s["count"] for s in per_episode])
    total = counts.sum(axis=0)
    while counts.ndim < means.ndim:
        counts = counts[..., None]
    mean = (means * counts).sum(axis=0) / total
    variance = ((variances + (means - mean) ** 2) * counts).sum(axis=0) / total
    out = {"min": np.min(np.stack([s["min"] for s in per_episode]), axis=0),
           "max": np.max(np.stack([s["max"] for s in per_episode]), axis=0),
           "mean": mean, "std": np.sqrt(variance), "count": total}
    for q in QUANTILES:
        out[_key(q)] = (np.stack([s[_key(q)] for s in per_episode]) * counts).sum(axis=0) / total
    return out
