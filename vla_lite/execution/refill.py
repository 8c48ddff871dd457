"""Refill the queue in the background when it runs low (LeRobot's async client: threshold 0.5 of the chunk),
optionally blending the overlap of the old and the new chunk (LeRobot: 0.3 old, 0.7 new)."""

from __future__ import annotations

import math

import numpy as np

from .base import QueuedExecutor


class RefillAtThreshold(QueuedExecutor):
    """Asks for a chunk when the actions queued for this step and later fall to threshold·T (T = chunk length)
    and no request is in flight. A new chunk overrides the queue from its first still-future step; with
    blend = (w_old, w_new) the steps both chunks cover get w_old·old + w_new·new, the rest come from the new
    chunk alone."""

    def __init__(self, threshold: float = 0.5, blend: tuple[float, float] | None = None, *,
                 chunk_length: int | None = None):
        super().__init__(chunk_length)
        if not (isinstance(threshold, (int, float)) and 0 <= threshold <= 1):
            raise ValueError(f"threshold must be a fraction of the chunk in [0, 1], got {threshold!r}")
        if blend is not None:
            try:
                w_old, w_new = (float(w) for w in blend)
            except (TypeError, ValueError):
                raise ValueError(f"blend must be None or (w_old, w_new), got {blend!r}") from None
            if not (0 <= w_old <= 1 and 0 <= w_new <= 1 and math.isclose(w_old + w_new, 1.0, abs_tol=1e-9)):
                raise ValueError(f"blend weights must be in [0, 1] and sum to 1, got {blend!r} (e.g. (0.3, 0.7))")
            blend = (w_old, w_new)
        self.threshold, self.blend = float(threshold), blend

    def _wants(self, step: int) -> bool:
        remaining = self.queue.remaining(step)
        if self.chunk_length is None:
            return remaining == 0
        return remaining <= self.threshold * self.chunk_length

    def _accept(self, actions: np.ndarray, first_step: int, obs_step: int) -> None:
        q = self.queue
        if self.blend is not None and len(q):
            # Steps covered by both: [max(first, q.start), min(first + len(actions), q.start + len(q))).
            lo, hi = max(first_step, q.start), min(first_step + len(actions), q.start + len(q))
            if lo < hi:
                w_old, w_new = self.blend
                actions = actions.copy()
                actions[lo - first_step:hi - first_step] = \
                    w_old * q.actions[lo - q.start:hi - q.start] + w_new * actions[lo - first_step:hi - first_step]
        q.replace(first_step, actions)
