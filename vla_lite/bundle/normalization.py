"""Map robot state into the policy's normalised space and its action chunks back out (z-score, per dimension).

Pure numpy: the statistics come from the manifest (`normalization.state`, `normalization.action`).
"""

from __future__ import annotations

import numpy as np

from .manifest import ActionStats, Stats


def normalize_state(x, stats: Stats) -> np.ndarray:
    """(..., S) robot state in manifest units -> (..., S) float32 `(x - mean) / std`."""
    x = np.asarray(x, dtype=np.float64)
    _check_last_dim(x, len(stats.mean), "state", "S = len(state.names)")
    return ((x - np.asarray(stats.mean)) / np.asarray(stats.std)).astype(np.float32)


def denormalize_actions(chunk, stats: ActionStats) -> np.ndarray:
    """(T, D) (or (..., D)) normalised actions -> float64 robot units `x * std + mean`; dimensions whose mask entry
    is False are passed through unchanged (e.g. a gripper command the model predicts directly)."""
    x = np.asarray(chunk, dtype=np.float64)
    _check_last_dim(x, len(stats.mean), "action chunk", "D = action.dim")
    mask = np.asarray(stats.mask, dtype=bool)
    return np.where(mask, x * np.asarray(stats.std) + np.asarray(stats.mean), x)


def _check_last_dim(x: np.ndarray, n: int, what: str, expected: str) -> None:
    if x.ndim == 0 or x.shape[-1] != n:
        raise ValueError(f"{what} has shape {x.shape}; expected (..., {n}) with {expected}")
