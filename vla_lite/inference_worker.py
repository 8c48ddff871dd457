"""Inference in a worker thread of the same process, so the control tick only submits and collects.

One request slot (a newer observation replaces one not yet started) and one result slot. onnxruntime and LiteRT
release the GIL while they run, so the control thread keeps its rate while a chunk is being computed. The thread
starts only when `start()` is called.
"""

from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple


class InferenceResult(NamedTuple):
    chunk: Any  # (T, D) normalised actions from the policy, or None if it raised
    obs_step: int  # control step at which the observation was taken
    latency_s: float  # request -> result
    observation: Any  # what was inferred on (for camera-to-command latency and recording)
    error: BaseException | None


class InferenceWorker:
    def __init__(self, policy, clock=time.perf_counter):
        self.policy, self.clock = policy, clock
        self._cond = threading.Condition()
        self._request = None  # (observation, obs_step, t_request)
        self._result: InferenceResult | None = None
        self._busy = False
        self._stop = False
        self._thread: threading.Thread | None = None
        self.requests = self.replaced = self.completed = self.errors = 0

    def start(self) -> "InferenceWorker":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="vla-lite-inference", daemon=True)
            self._thread.start()
        return self

    @property
    def busy(self) -> bool:
        """A request is queued or running."""
        with self._cond:
            return self._busy or self._request is not None

    def request(self, observation, obs_step: int) -> None:
        with self._cond:
            if self._request is not None:
                self.replaced += 1
            self._request = (observation, obs_step, self.clock())
            self.requests += 1
            self._cond.notify()

    def poll(self) -> InferenceResult | None:
        """The finished result, once; None while nothing new is done."""
        with self._cond:
            result, self._result = self._result, None
            return result

    def discard(self) -> None:
        """Forget the queued request and any finished result (instruction change, new episode)."""
        with self._cond:
            self._request = self._result = None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._request is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                (obs, step, t0), self._request = self._request, None
                self._busy = True
            chunk, error = None, None
            try:
                chunk = self.policy.infer(obs.images, obs.state, obs.instruction)
            except Exception as exc:  # reported through the result, never kills the thread
                error = exc
            with self._cond:
                self._busy = False
                self._result = InferenceResult(chunk, step, self.clock() - t0, obs, error)
                self.completed += 1
                self.errors += error is not None

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(5.0)
            self._thread = None
