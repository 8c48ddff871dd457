"""ACT's temporal ensembling: a prediction for every step from every chunk that covers it, averaged."""

from __future__ import annotations

import math
from bisect import insort

import numpy as np

from .base import ChunkExecutorBase


def _obs_step(prediction) -> int:
    return prediction[0]


class TemporalEnsemble(ChunkExecutorBase):
    """Asks for a chunk at every step (whenever no request is in flight). The action for a step is the weighted
    average of all predictions made for it, weight exp(-coeff·i) with i = 0 for the OLDEST prediction (ACT's
    convention: with coeff > 0 older predictions weigh more, which smooths). Memory is bounded: predictions are
    kept only for future steps, at most chunk_length per step (the oldest beyond that are dropped)."""

    accepts_older = True  # a late chunk still adds its predictions, ordered by its observation step

    def __init__(self, coeff: float = 0.01, *, chunk_length: int | None = None):
        super().__init__(chunk_length)
        if not (isinstance(coeff, (int, float)) and math.isfinite(coeff)):
            raise ValueError(f"ensemble coefficient must be a finite number (ACT uses 0.01), got {coeff!r}")
        self.coeff = float(coeff)
        self._weights = np.exp(-self.coeff * np.arange(chunk_length or 0))  # i = 0: the oldest prediction
        self._predictions: dict[int, list[tuple[int, np.ndarray]]] = {}  # step -> [(obs_step, (D,))], by obs step

    def _wants(self, step: int) -> bool:
        return True

    def _accept(self, actions: np.ndarray, first_step: int, obs_step: int) -> None:
        if len(self._weights) != self.chunk_length:  # chunk_length learned from the first chunk
            self._weights = np.exp(-self.coeff * np.arange(self.chunk_length))
        for i, action in enumerate(actions):
            preds = self._predictions.setdefault(first_step + i, [])
            if preds and obs_step < preds[-1][0]:
                insort(preds, (obs_step, action), key=_obs_step)  # a late chunk: after equal obs steps
            else:
                preds.append((obs_step, action))
            if len(preds) > self.chunk_length:
                del preds[0]  # the oldest prediction goes first

    def _action(self, step: int) -> np.ndarray | None:
        preds = self._predictions.get(step)
        if not preds:
            return None
        weights = self._weights[:len(preds)]
        return np.tensordot(weights / weights.sum(), np.stack([a for _, a in preds]), axes=1)

    def _drop_before(self, step: int) -> None:
        for s in [s for s in self._predictions if s < step]:
            if self._served is None or s > self._served:
                self.counters.expired += 1
            del self._predictions[s]

    def _reset(self) -> None:
        self._predictions.clear()
