"""The executor interface and the bookkeeping every chunk strategy shares.

Steps are control-step indices (ints, increasing). A chunk is (T, D) actions in robot units; chunk[i] is for step
obs_step + i. Inference delay is counted in steps consumed: once the action for step s was handed out, a chunk
that arrives skips its actions for steps <= s, and a chunk entirely in the past is dropped. Nothing is ever padded
or extrapolated: no action for a step means next_action() returns None and the loop holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Executor(Protocol):
    def needs_inference(self, step: int) -> bool:
        """Should an observation taken at `step` go to the policy now?"""
    def on_request(self, step: int) -> None:
        """An inference was started on the observation of `step`."""
    def submit(self, chunk: np.ndarray, obs_step: int) -> None:
        """(T, D) robot units; chunk[i] is for step obs_step + i."""
    def next_action(self, step: int) -> np.ndarray | None:
        """(D,) for this control step, or None (the loop holds)."""
    def clear(self, step: int) -> None:
        """Drop everything; results of observations before `step` are discarded."""


@dataclass
class ExecutorCounters:
    requests: int = 0  # on_request calls
    submitted: int = 0  # submit calls, whatever became of the chunk
    dropped_stale: int = 0  # chunks entirely in the past, or older than the plan already executing
    discarded: int = 0  # chunks from observations before a clear()
    skipped_for_delay: int = 0  # actions skipped because their step had passed when the chunk arrived
    expired: int = 0  # queued actions whose step passed without next_action being asked for it
    empty_steps: int = 0  # next_action calls with nothing for that step (the loop held)
    expired_requests: int = 0  # in-flight requests given up after chunk_length steps without a result


def check_step(step, what: str = "step") -> int:
    if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
        raise ValueError(f"{what} must be an integer >= 0, got {step!r}")
    return int(step)


class ChunkExecutorBase:
    """Shared state: the latest step seen, the last step served, the request in flight and the clear() horizon.
    Subclasses implement _wants(step), _accept(actions, first_step, obs_step), _action(step), _drop_before(step),
    _reset(). A request in flight for chunk_length steps is given up (any result would be entirely stale)."""

    accepts_older = False  # may a chunk from an older observation than the newest accepted one still be used?

    def __init__(self, chunk_length: int | None = None):
        if chunk_length is not None and (isinstance(chunk_length, bool) or not isinstance(chunk_length, int)
                                         or chunk_length < 1):
            raise ValueError(f"chunk_length must be an integer >= 1, got {chunk_length!r}")
        self.chunk_length = chunk_length  # T; learned from the first chunk when None
        self.counters = ExecutorCounters()
        self._dim: int | None = None
        self._seen: int | None = None  # latest step passed to any call
        self._served: int | None = None  # latest step next_action was asked for
        self._in_flight: int | None = None  # obs step of the request in flight
        self._accept_from = 0  # results of observations before this step are discarded
        self._newest_obs: int | None = None  # obs step of the newest accepted chunk

    # --- the interface -------------------------------------------------------------------------------------

    def needs_inference(self, step: int) -> bool:
        step = self._see(step)
        if self._in_flight is not None and self.chunk_length is not None and \
                step >= self._in_flight + self.chunk_length:
            self._in_flight = None
            self.counters.expired_requests += 1
        return self._in_flight is None and self._wants(step)

    def on_request(self, step: int) -> None:
        self._in_flight = self._see(step)
        self.counters.requests += 1

    def submit(self, chunk: np.ndarray, obs_step: int) -> None:
        obs_step = check_step(obs_step, "obs_step")
        chunk = self._check_chunk(chunk)
        if self._seen is not None and obs_step > self._seen:
            raise ValueError(f"obs_step {obs_step} is ahead of the latest step seen ({self._seen}): a chunk cannot "
                             "come from an observation the loop has not taken yet")
        self.counters.submitted += 1
        if self._in_flight is not None and obs_step >= self._in_flight:
            self._in_flight = None
        if obs_step < self._accept_from:
            self.counters.discarded += 1
            return
        if not self.accepts_older and self._newest_obs is not None and obs_step < self._newest_obs:
            self.counters.dropped_stale += 1  # a newer plan is already executing
            return
        first = obs_step if self._served is None else max(obs_step, self._served + 1)
        skip = first - obs_step
        if skip >= len(chunk):
            self.counters.dropped_stale += 1
            return
        self.counters.skipped_for_delay += skip
        self._newest_obs = obs_step if self._newest_obs is None else max(self._newest_obs, obs_step)
        self._accept(chunk[skip:], first, obs_step)

    def next_action(self, step: int) -> np.ndarray | None:
        step = self._see(step)
        self._drop_before(step)
        self._served = step if self._served is None else max(self._served, step)
        action = self._action(step)
        if action is None:
            self.counters.empty_steps += 1
            return None
        return action.copy()

    def peek(self, step: int) -> np.ndarray | None:
        """The action next_action(step) would give now, changing nothing (None if there is none)."""
        action = self._action(check_step(step))
        return None if action is None else action.copy()

    def clear(self, step: int | None = None) -> None:
        """Drop everything queued; results of observations before `step` are discarded (step None: every
        observation up to the latest step seen)."""
        horizon = (0 if self._seen is None else self._seen + 1) if step is None else self._see(step)
        self._accept_from = max(self._accept_from, horizon)
        if self._in_flight is not None and self._in_flight < self._accept_from:
            self._in_flight = None
        self._newest_obs = None
        self._reset()

    # --- helpers -------------------------------------------------------------------------------------------

    def _see(self, step) -> int:
        step = check_step(step)
        self._seen = step if self._seen is None else max(self._seen, step)
        return step

    def _check_chunk(self, chunk) -> np.ndarray:
        a = np.array(chunk, np.float64)  # a copy: the caller may reuse its buffer
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
            raise ValueError(f"chunk must be (T, D) with T, D >= 1, got shape {a.shape}")
        if self.chunk_length is None:
            self.chunk_length = a.shape[0]
        if a.shape[0] != self.chunk_length:
            raise ValueError(f"chunk has {a.shape[0]} actions; expected chunk_length {self.chunk_length}")
        if self._dim is not None and a.shape[1] != self._dim:
            raise ValueError(f"chunk has action dim {a.shape[1]}; earlier chunks had {self._dim}")
        if not np.isfinite(a).all():
            raise ValueError("chunk holds non-finite values; the loop must refuse such a policy output")
        self._dim = a.shape[1]
        return a

    def _wants(self, step: int) -> bool:
        raise NotImplementedError

    def _accept(self, actions: np.ndarray, first_step: int, obs_step: int) -> None:
        raise NotImplementedError

    def _action(self, step: int) -> np.ndarray | None:
        raise NotImplementedError

    def _drop_before(self, step: int) -> None:
        raise NotImplementedError

    def _reset(self) -> None:
        raise NotImplementedError


class QueuedExecutor(ChunkExecutorBase):
    """An executor that hands out one queue of actions (the newest plan, possibly blended with the previous)."""

    def __init__(self, chunk_length: int | None = None):
        super().__init__(chunk_length)
        self.queue = ActionQueue()

    def _action(self, step: int) -> np.ndarray | None:
        return self.queue.get(step)

    def _drop_before(self, step: int) -> None:
        q = self.queue
        unserved_from = q.start if self._served is None else max(q.start, self._served + 1)
        self.counters.expired += max(0, min(step, q.start + len(q)) - unserved_from)
        q.drop_before(step)

    def _reset(self) -> None:
        self.queue.clear()


class ActionQueue:
    """Actions for consecutive steps start, start + 1, ...: (n, D) robot units."""

    def __init__(self):
        self.start = 0
        self.actions = np.zeros((0, 0))

    def __len__(self) -> int:
        return len(self.actions)

    def get(self, step: int) -> np.ndarray | None:
        i = step - self.start
        return self.actions[i] if 0 <= i < len(self.actions) else None

    def remaining(self, step: int) -> int:
        """Actions queued for `step` and later."""
        return max(0, len(self.actions) - max(0, step - self.start))

    def replace(self, first_step: int, actions: np.ndarray) -> None:
        self.start, self.actions = first_step, actions

    def drop_before(self, step: int) -> int:
        """Forget actions for steps before `step`; returns how many were dropped."""
        n = min(len(self.actions), max(0, step - self.start))
        self.start, self.actions = self.start + n, self.actions[n:]
        if not len(self.actions):
            self.start = step
        return n

    def clear(self) -> None:
        self.actions = self.actions[:0]
