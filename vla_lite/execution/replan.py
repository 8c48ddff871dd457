"""Execute k actions of the newest chunk, then plan again (openpi's action-chunk broker, k = 5 there)."""

from __future__ import annotations

import numpy as np

from .base import QueuedExecutor


class ReplanEvery(QueuedExecutor):
    """Asks for a new chunk once k steps have passed since the observation of the chunk being executed, or when
    nothing is queued for the step. A new chunk replaces the queue from its first still-future step: with
    synchronous inference at once, with asynchronous inference the old chunk keeps running while the request is
    in flight. If the old chunk runs out first, next_action() returns None (the loop holds)."""

    def __init__(self, k: int, *, chunk_length: int | None = None):
        super().__init__(chunk_length)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"replan every k steps needs an integer k >= 1, got {k!r}")
        if chunk_length is not None and k > chunk_length:
            raise ValueError(f"k = {k} exceeds chunk_length {chunk_length}: the chunk would run out before replanning")
        self.k = k

    def _wants(self, step: int) -> bool:
        return self.queue.get(step) is None or self._newest_obs is None or step - self._newest_obs >= self.k

    def _accept(self, actions: np.ndarray, first_step: int, obs_step: int) -> None:
        self.queue.replace(first_step, actions)
