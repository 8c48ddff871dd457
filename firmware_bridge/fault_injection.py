"""A bad cable, on purpose: drops bytes, flips bits and delays delivery on one byte stream.

Pure logic with time passed in: `apply(chunk, now_s)` takes each chunk as it is read or written and returns the
bytes due for delivery now (with a delay, earlier chunks come out of a queue in order; `release(now_s)` drains the
queue between chunks). Deterministic given the seed and the sequence of chunk lengths. `arm_server` applies one
instance to each direction of its link (`fork()` gives the second an independent stream from the same seed).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class FaultStats:
    chunks: int = 0
    bytes_in: int = 0
    bytes_out: int = 0  # delivered so far
    bytes_dropped: int = 0
    bytes_corrupted: int = 0  # one bit flipped in each
    chunks_delayed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


class FaultInjection:
    """Each byte has one random bit flipped with probability corrupt_rate and, independently, is dropped with
    probability drop_rate; every chunk is delivered delay_ms after it arrived, order preserved."""

    def __init__(self, drop_rate: float = 0.0, corrupt_rate: float = 0.0, delay_ms: float = 0.0,
                 seed: int | np.random.SeedSequence | None = None):
        for name, rate in (("drop_rate", drop_rate), ("corrupt_rate", corrupt_rate)):
            if not (isinstance(rate, (int, float)) and 0.0 <= rate <= 1.0):
                raise ValueError(f"{name} must be a probability per byte in [0, 1], got {rate!r}")
        if not (isinstance(delay_ms, (int, float)) and math.isfinite(delay_ms) and delay_ms >= 0):
            raise ValueError(f"delay_ms must be a finite number of milliseconds >= 0, got {delay_ms!r}")
        self.drop_rate, self.corrupt_rate, self.delay_ms = float(drop_rate), float(corrupt_rate), float(delay_ms)
        self._seed = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        self._rng = np.random.default_rng(self._seed)
        self._queue: deque[tuple[float, bytes]] = deque()  # (due time s, bytes), in arrival order
        self.stats = FaultStats()

    @property
    def active(self) -> bool:
        return self.drop_rate > 0 or self.corrupt_rate > 0 or self.delay_ms > 0

    def fork(self) -> "FaultInjection":
        """Same rates and delay, an independent random stream derived from this one's seed."""
        return FaultInjection(self.drop_rate, self.corrupt_rate, self.delay_ms, self._seed.spawn(1)[0])

    def apply(self, chunk: bytes, now_s: float) -> bytes:
        """Pass one chunk through the faults; returns what is due for delivery at now_s."""
        st = self.stats
        st.chunks += 1
        st.bytes_in += len(chunk)
        out = self._mangle(chunk)
        if self.delay_ms > 0:
            self._queue.append((now_s + self.delay_ms / 1000, out))
            st.chunks_delayed += 1
            return self.release(now_s)
        st.bytes_out += len(out)
        return out

    def release(self, now_s: float) -> bytes:
        """Delayed bytes whose time has come, in order (b"" if none)."""
        q = self._queue
        if not q or q[0][0] > now_s:
            return b""
        parts = []
        while q and q[0][0] <= now_s:
            parts.append(q.popleft()[1])
        out = b"".join(parts)
        self.stats.bytes_out += len(out)
        return out

    def next_due_s(self) -> float | None:
        """When the oldest delayed chunk is due, or None with nothing queued."""
        return self._queue[0][0] if self._queue else None

    def discard(self) -> int:
        """Forget queued bytes (the link they were travelling on is gone); returns how many."""
        n = sum(len(c) for _, c in self._queue)
        self._queue.clear()
        return n

    def _mangle(self, chunk: bytes) -> bytes:
        if not chunk or (self.drop_rate <= 0 and self.corrupt_rate <= 0):
            return bytes(chunk)
        data = np.frombuffer(chunk, np.uint8).copy()
        if self.corrupt_rate > 0:
            hit = np.flatnonzero(self._rng.random(data.size) < self.corrupt_rate)
            if hit.size:
                data[hit] ^= (1 << self._rng.integers(0, 8, hit.size)).astype(np.uint8)
                self.stats.bytes_corrupted += int(hit.size)
        if self.drop_rate > 0:
            keep = self._rng.random(data.size) >= self.drop_rate
            self.stats.bytes_dropped += int(data.size - keep.sum())
            data = data[keep]
        return data.tobytes()
