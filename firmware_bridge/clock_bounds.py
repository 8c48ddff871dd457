"""When did the controller take a STATE, in the host's clock? A STATE that sat in a buffer (a stalled host, a queue
in an adapter or a slow cable) arrives looking new; its `time_us` (PROTOCOL.md §2, the controller's monotonic
clock) says how old it is, once the two clocks are related.

offset = host clock − controller clock, s. A STATE stamped T (s) and received at host time r was taken at
T + offset <= r, so offset <= r − T: an upper bound, from every STATE. A STATE known to answer a message the host
sent at s (it echoes a COMMAND's seq, or follows the HELLO_ACK of a handshake) was taken after s, so
offset >= s − T: a lower bound. A STATE stamped T was therefore taken no earlier than T + min(lower, upper). The
lower bound errs early by the answered message's trip to the controller (safe: the STATE looks older than it is);
capping it by the upper bound limits a wrong lower sample (a HELLO answered late, after a retry had gone out) to
erring late by the fastest return trip seen. Each bound widens by DRIFT_PER_S per second of controller time
between its sample and the STATE dated, for two clocks running at slightly different rates.

Pure arithmetic with time passed in: host seconds, controller microseconds.
"""

from __future__ import annotations

import math

DRIFT_PER_S = 1e-3  # |rate difference| allowed between the host's and the controller's clocks (crystals: < 1e-4)


class ClockBounds:
    def __init__(self, drift_per_s: float = DRIFT_PER_S):
        self.drift_per_s = drift_per_s
        self.reset()

    def reset(self) -> None:
        """Forget both bounds: a new handshake (the controller may have restarted its clock)."""
        self._lower: tuple[float, float] | None = None  # (offset s, controller time of the sample s)
        self._upper: tuple[float, float] | None = None
        self._provisional = False  # the lower bound came from a HELLO: the first echoed COMMAND replaces it

    def received(self, time_us: int, at_s: float) -> None:
        """Any STATE, received at host time at_s: it was taken at or before then."""
        t_s = time_us * 1e-6
        if self._upper is None or at_s - t_s <= self._widened(self._upper, t_s, +1.0):
            self._upper = (at_s - t_s, t_s)

    def answered(self, sent_s: float, time_us: int, provisional: bool = False) -> None:
        """A STATE known to answer a message sent at host time sent_s (read from the clock before writing it).
        provisional: the message may not be the one answered (a retried HELLO): kept only until a sure sample."""
        t_s = time_us * 1e-6
        if self._lower is None or self._provisional or sent_s - t_s >= self._widened(self._lower, t_s, -1.0):
            self._lower, self._provisional = (sent_s - t_s, t_s), provisional

    def taken_after_s(self, time_us: int) -> float:
        """The earliest host time at which a STATE stamped time_us can have been taken; -inf before a lower
        bound exists (nothing answered since the handshake began: its age is unknown)."""
        if self._lower is None:
            return -math.inf
        t_s = time_us * 1e-6
        offset = self._widened(self._lower, t_s, -1.0)
        if self._upper is not None:
            offset = min(offset, self._widened(self._upper, t_s, +1.0))
        return t_s + offset

    def _widened(self, bound: tuple[float, float], t_s: float, direction: float) -> float:
        """The bound as it holds for a STATE stamped t_s (controller s): wider the further from its sample."""
        offset, sample_t_s = bound
        return offset + direction * self.drift_per_s * abs(t_s - sample_t_s)
