"""Fixed-rate pacing against absolute monotonic deadlines, and per-section cycle timing.

Tick k is due at t0 + k·period. `Pacer.wait()` sleeps until shortly before the deadline, then spins the last
`spin_s` (sleep alone wakes up late by the scheduler's slack). A tick that starts a whole period or more after its
deadline is an overrun, whether the work before it ran long or the sleep woke late (a stall of the whole process):
the missed deadlines are skipped (counted, never run back-to-back to catch up), so the loop never bursts commands
at the arm. Jitter is each tick's start minus the deadline it was due at, overruns included. The first tick
(warm-up) is excluded from the figures; `achieved_hz` is over the ticks run (first to last start), so time spent
after the last tick (shutdown) does not count.

`NaivePacer` is the baseline the field often ships: `sleep(period - elapsed)` after the work. It drifts and
hides overruns; benchmarks run it beside `Pacer` in the same process.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable

import numpy as np

MAX_SAMPLES = 2**17  # per series: ~44 min at 50 Hz before the oldest samples roll off (512 KB each, float32)
HIST_EDGES_MS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, float("inf"))


def percentiles(samples, qs=(50, 99), stats=("max",), scale: float = 1.0, digits: int | None = 4) -> dict:
    """{"p50": ..., "p99": ..., then each of `stats` ("max", "mean", "min"), "n": count} of samples x scale,
    rounded to `digits` (None: not rounded); empty: None values. The one percentile helper of the project."""
    a = np.asarray(samples, dtype=np.float64) * scale
    keys = [f"p{q}" for q in qs] + list(stats)
    if a.size == 0:
        return {**dict.fromkeys(keys), "n": 0}
    values = [np.percentile(a, q) for q in qs] + [getattr(np, s)(a) for s in stats]
    return {**{k: float(v) if digits is None else round(float(v), digits) for k, v in zip(keys, values)},
            "n": int(a.size)}


def percentiles_ms(samples_s, qs=(50, 99)) -> dict:
    """Seconds -> {"p50": ms, "p99": ms, "max": ms, "n": count}; empty -> None values."""
    return percentiles(samples_s, qs, scale=1e3)


def histogram_ms(samples_s) -> dict:
    """Counts of samples per bin of HIST_EDGES_MS (ms), for jitter histograms across runs."""
    counts, _ = np.histogram(np.asarray(samples_s, np.float64) * 1e3, bins=np.array(HIST_EDGES_MS))
    return {"edges_ms": [e if e != float("inf") else None for e in HIST_EDGES_MS], "counts": counts.tolist()}


class SampleRing:
    """The newest `capacity` samples of one series, float32, allocated and touched up front: a long run's memory
    does not grow with its length (a deque of Python floats costs 32 B a sample, so ~0.7 MB a minute for the
    loop's series at 50 Hz). Order is kept (`np.asarray(ring)` is oldest first); `len`, iteration and `max` work."""

    def __init__(self, capacity: int = MAX_SAMPLES):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1 sample, got {capacity!r}")
        self._a = np.full(capacity, np.nan, np.float32)  # written now, so resident from the start
        self._n = 0  # samples appended in all

    def append(self, value: float) -> None:
        self._a[self._n % self._a.size] = value
        self._n += 1

    def __len__(self) -> int:
        return min(self._n, self._a.size)

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        n, cap = self._n, self._a.size
        a = self._a[:n] if n <= cap else np.roll(self._a, -(n % cap))
        return a.astype(dtype or np.float64)

    def __iter__(self):
        return iter(np.asarray(self).tolist())


class Pacer:
    """Absolute-deadline pacing. `clock` and `sleep` are injectable (tests use a fake clock)."""

    def __init__(self, rate_hz: float, spin_s: float = 0.0005, clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep):
        if not 0 < rate_hz <= 10_000:
            raise ValueError(f"rate must be in (0, 10000] Hz, got {rate_hz!r}")
        if not 0 <= spin_s < 1.0 / rate_hz:
            raise ValueError(f"spin_s must be in [0, period) = [0, {1.0 / rate_hz:g}) s, got {spin_s!r}")
        self.rate_hz, self.period_s, self.spin_s = float(rate_hz), 1.0 / rate_hz, spin_s
        self.clock, self.sleep = clock, sleep
        self.t0_s: float | None = None
        self.k = 0  # index of the next deadline
        self.ticks = 0  # ticks released (wait() returned)
        self.overruns = 0  # ticks that started a period or more late
        self.skipped = 0  # deadlines dropped to catch up
        self.lateness_s = SampleRing()  # wake time - deadline, s, warm-up excluded
        self.last_start_s: float | None = None  # when the newest tick was released

    def wait(self) -> float:
        """Block until the next deadline; returns how late this tick starts (s). The first call starts the clock."""
        now = self.clock()
        if self.t0_s is None:
            self.t0_s, self.k = now, 1
            self.ticks, self.last_start_s = 1, now
            return 0.0
        deadline = self.t0_s + self.k * self.period_s
        coarse = deadline - self.spin_s - now
        if coarse > 0:
            self.sleep(coarse)
        while (now := self.clock()) < deadline:
            pass  # spin the last spin_s: sleep() alone wakes up late by the scheduler's slack
        return self._release(now, now - deadline)

    def _release(self, now: float, late: float) -> float:
        if late >= self.period_s:  # overrun: a whole period behind. Skip the missed deadlines, never burst.
            missed = int(late / self.period_s)
            self.overruns += 1
            self.skipped += missed
            self.k += missed
        self.k += 1
        self.ticks += 1
        self.last_start_s = now
        if self.ticks > 2:  # the warm-up tick (and the first deadline after it) carry start-up costs
            self.lateness_s.append(late)
        return late

    def until_next_s(self) -> float:
        """Time left before the next wait() must start spinning (s; <= 0: none), for idle work between ticks."""
        if self.t0_s is None:
            return 0.0
        return self.t0_s + self.k * self.period_s - self.spin_s - self.clock()

    def report(self) -> dict:
        return {"rate_hz": self.rate_hz, "ticks": self.ticks, "overruns": self.overruns, "skipped": self.skipped,
                "jitter_ms": percentiles_ms(self.lateness_s), "jitter_hist": histogram_ms(self.lateness_s),
                "achieved_hz": self.achieved_hz()}

    def achieved_hz(self) -> float | None:
        if self.t0_s is None or self.ticks < 2 or self.last_start_s <= self.t0_s:
            return None
        return round((self.ticks - 1) / (self.last_start_s - self.t0_s), 3)


class NaivePacer(Pacer):
    """The baseline: after the work, sleep(period - elapsed). Lateness is measured against the same absolute
    schedule the Pacer keeps, so drift shows up as growing lateness; overruns are counted the same way."""

    def wait(self) -> float:
        now = self.clock()
        if self.t0_s is None:
            self.t0_s, self.k, self.ticks = now, 1, 1
            self.last_start_s = now
            return 0.0
        remaining = self.period_s - (now - self.last_start_s)
        if remaining > 0:
            self.sleep(remaining)
        now = self.clock()
        self.last_start_s = now
        late = max(0.0, now - (self.t0_s + self.k * self.period_s))
        if late >= self.period_s:
            self.overruns += 1  # counted, but the naive pacer keeps its drifting schedule: nothing is skipped
        self.k += 1
        self.ticks += 1
        if self.ticks > 2:
            self.lateness_s.append(late)
        return late

    def until_next_s(self) -> float:
        return 0.0 if self.t0_s is None else self.last_start_s + self.period_s - self.clock()


class CycleStats:
    """Per-section durations (observe / infer / act / send ...), s. Use `with stats.section("infer"): ...`."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter):
        self.clock = clock
        self.samples: dict[str, SampleRing] = {}
        self._skip = 1  # the warm-up cycle is excluded
        self._cycle: dict[str, float] = {}

    @contextmanager
    def section(self, name: str):
        t0 = self.clock()
        try:
            yield
        finally:
            self._cycle[name] = self._cycle.get(name, 0.0) + self.clock() - t0

    def end_cycle(self) -> dict[str, float]:
        """Close one cycle; returns its section durations in ms (also for the recorder)."""
        cycle, self._cycle = self._cycle, {}
        if self._skip > 0:
            self._skip -= 1
        else:
            for name, dt in cycle.items():
                series = self.samples.get(name)
                if series is None:
                    series = self.samples[name] = SampleRing()
                series.append(dt)
            series = self.samples.get("total")
            if series is None:
                series = self.samples["total"] = SampleRing()
            series.append(sum(cycle.values()))
        return {k: round(v * 1e3, 4) for k, v in cycle.items()}

    def report(self) -> dict:
        return {name: percentiles_ms(s) for name, s in self.samples.items()}
