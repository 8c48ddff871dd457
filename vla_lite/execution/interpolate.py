"""Run the control loop faster than the policy: linear interpolation between consecutive policy actions.

Mapping the loop must use: it ticks at factor × the policy rate and passes TICK indices to every call. Tick t is
policy step p = t // factor, at fraction r = (t % factor) / factor of the way to step p + 1. Observations go to
the policy only at ticks t = p·factor (needs_inference is false in between), and a chunk submitted with
obs_step = t (the observation's tick) is for policy steps t // factor + i, so chunk[i] is reached at tick
(t // factor + i)·factor. Delay is counted in ticks and converted the same way: a chunk arriving at tick s
skips the policy steps up to s // factor (their action was already handed out). clear(t) discards observations
before tick t, i.e. policy steps before ceil(t / factor).
"""

from __future__ import annotations

import numpy as np

from .base import check_step


class Interpolated:
    """Output at tick t = p·factor + j: a_p + (j / factor)·(a_{p+1} − a_p), where a_p = inner.next_action(p)
    (taken once, when tick t first enters step p) and a_{p+1} = inner.peek(p + 1) (the inner executor's
    current plan for the next step). Holds a_p when a_{p+1} is not available yet; never extrapolates. None when
    a_p is None (the loop holds)."""

    def __init__(self, inner, factor: int):
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 1:
            raise ValueError(f"interpolation factor must be an integer >= 1, got {factor!r}")
        if not callable(getattr(inner, "peek", None)):
            raise ValueError(f"{type(inner).__name__} has no peek(step); Interpolated needs one to see the next "
                             "action without consuming it")
        self.inner, self.factor = inner, factor
        self._step: int | None = None  # policy step whose action is cached
        self._action: np.ndarray | None = None

    @property
    def counters(self):
        return self.inner.counters  # counted in policy steps

    def needs_inference(self, step: int) -> bool:
        t = check_step(step)
        return t % self.factor == 0 and self.inner.needs_inference(t // self.factor)

    def on_request(self, step: int) -> None:
        self.inner.on_request(check_step(step) // self.factor)

    def submit(self, chunk: np.ndarray, obs_step: int) -> None:
        self.inner.submit(chunk, check_step(obs_step, "obs_step") // self.factor)

    def next_action(self, step: int) -> np.ndarray | None:
        p, j = divmod(check_step(step), self.factor)
        if p != self._step:
            self._step, self._action = p, self.inner.next_action(p)
        if self._action is None:
            return None
        nxt = self.inner.peek(p + 1)
        if nxt is None or j == 0:
            return self._action.copy()
        return self._action + (j / self.factor) * (nxt - self._action)

    def peek(self, step: int) -> np.ndarray | None:
        p, j = divmod(check_step(step), self.factor)
        a = self._action if p == self._step else self.inner.peek(p)
        if a is None:
            return None
        nxt = self.inner.peek(p + 1)
        return a.copy() if nxt is None or j == 0 else a + (j / self.factor) * (nxt - a)

    def clear(self, step: int | None = None) -> None:
        self.inner.clear(None if step is None else -(-check_step(step) // self.factor))
        self._step = self._action = None
