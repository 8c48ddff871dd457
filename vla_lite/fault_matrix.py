"""The long-run fault matrix: `vla-lite run --port sim`'s runtime at a fixed rate while a schedule of faults cycles
on the real link and camera, and checks that no command was ever computed from bad data.

The faults are injected where a real rig has them: on the bytes between the host and the simulated controller
(the world's ArmServer, in both directions: dropped bytes, flipped bits, added latency, bursts of junk bytes) and
in the camera (its renderer stalls, so frames go stale). Phases alternate with clean ones. A controller fault
latched for `clear_after_s` is cleared, as an operator would, so the loop's recovery is exercised in every phase
and a latched WATCHDOG does not hide the phases after it.

"Bad data", checked every tick against the world's own truth rather than the loop's judgement:
- stale frame: a command sent (not a hold) while the camera had been stalled longer than the frame age limit;
- corrupt state: the positions the tick acted on are further from the arm's true positions than the arm could
  have moved since (its velocity limit times the state age limit plus a period), or not finite;
- while faulted: a command sent while the controller had a fault latched for longer than a fresh state (plus the
  largest injected delay) could hide it.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
import time
from dataclasses import dataclass

import numpy as np

from .firmware_bridge.fault_injection import FaultInjection


class Phase(str, enum.Enum):
    CLEAN = "clean"
    DROP = "drop"
    CORRUPT = "corrupt"
    DELAY = "delay"
    JUNK = "junk"
    CAMERA_STALL = "camera stall"


CYCLE = (Phase.CLEAN, Phase.DROP, Phase.CLEAN, Phase.CORRUPT, Phase.CLEAN, Phase.DELAY, Phase.CLEAN, Phase.JUNK,
         Phase.CLEAN, Phase.CAMERA_STALL)


@dataclass(frozen=True)
class FaultLevels:
    drop_rate: float = 0.02  # per byte, each direction
    corrupt_rate: float = 0.005  # per byte: one bit flipped
    delay_ms: float = 30.0  # added to every chunk, each direction (1.5 periods at 50 Hz)
    junk_rate: float = 0.3  # per chunk: a burst of random bytes before it
    junk_bytes: int = 64
    max_delay_s: float = 0.1  # margin for the "while faulted" check: the largest delay a state can arrive with


class ScheduledCable(FaultInjection):
    """FaultInjection whose settings change with the phase (set from any thread; read by the server's thread),
    plus junk bursts: random bytes (delimiters included) inserted before a chunk."""

    def __init__(self, levels: FaultLevels, seed: int):
        super().__init__(0.0, 0.0, 0.0, seed)
        self.levels, self.junk_rate = levels, 0.0
        self._junk_rng = np.random.default_rng(seed + 1)
        self.junk_bytes_sent = 0

    @property
    def active(self) -> bool:
        return True

    def set_phase(self, phase: Phase) -> None:
        lv = self.levels
        self.drop_rate = lv.drop_rate if phase is Phase.DROP else 0.0
        self.corrupt_rate = lv.corrupt_rate if phase is Phase.CORRUPT else 0.0
        self.delay_ms = lv.delay_ms if phase is Phase.DELAY else 0.0
        self.junk_rate = lv.junk_rate if phase is Phase.JUNK else 0.0

    def apply(self, chunk: bytes, now_s: float) -> bytes:
        if self.junk_rate and self._junk_rng.random() < self.junk_rate:
            junk = self._junk_rng.integers(0, 256, self.levels.junk_bytes, dtype=np.uint8).tobytes()
            self.junk_bytes_sent += len(junk)
            chunk = junk + chunk
        return super().apply(chunk, now_s)


class StallingRenderer:
    """Wraps a camera's renderer: while `stalled`, render() blocks (a camera that stops delivering frames)."""

    def __init__(self, renderer, clock=time.monotonic):
        self.renderer, self.clock = renderer, clock
        self.stalled = threading.Event()
        self.stall_started_s: float | None = None  # clock() when the stall began: every frame since is older

    def stall(self, on: bool) -> None:
        if on and not self.stalled.is_set():
            self.stall_started_s = self.clock()
            self.stalled.set()
        elif not on:
            self.stalled.clear()
            self.stall_started_s = None

    def render(self, *args, **kwargs):
        while self.stalled.is_set():
            time.sleep(0.005)
        return self.renderer.render(*args, **kwargs)


class FaultMatrix:
    """Drives the phases and checks each tick. Install with `FaultMatrix(rt, phase_s)`, then pass `watch` to
    Session.run. rt: vla_lite.runtime.Runtime on the simulated tabletop (`--port sim`)."""

    def __init__(self, rt, phase_s: float = 5.0, levels: FaultLevels = FaultLevels(), seed: int = 0,
                 clear_after_s: float = 1.0, clock=time.monotonic):
        if rt.rig is None or not hasattr(rt.rig, "server"):
            raise ValueError("the fault matrix needs a simulated world served on a pty (--port sim)")
        self.rt, self.phase_s, self.levels, self.clock = rt, phase_s, levels, clock
        self.clear_after_s = clear_after_s
        server = rt.rig.server
        self.cables = (ScheduledCable(levels, seed), ScheduledCable(levels, seed + 100))
        server.faults_in, server.faults_out = self.cables  # swapped in whole: the server reads the attribute
        camera = rt.rig.camera
        self.stall = camera.renderer = StallingRenderer(camera.renderer, clock)
        arm = rt.rig.arm
        self.arm = arm
        self.max_move = np.array([j.vel_max for j in arm.config.joints]) * \
            (rt.loop.config.max_state_age_s + rt.loop.config.period_s + levels.max_delay_s)
        self.t0_s = clock()
        self.phase = Phase.CLEAN
        self.phase_ticks = {ph.value: 0 for ph in Phase}
        self.phase_held = {ph.value: 0 for ph in Phase}
        self.phase_rejected = {ph.value: 0 for ph in Phase}  # frames the host's decoder refused (CRC, COBS)
        self.phase_lost = {ph.value: 0 for ph in Phase}  # commands never echoed
        self._seen = (0, 0)  # (rejected, lost) at the previous tick
        self.bad = {"stale_frame": 0, "corrupt_state": 0, "while_faulted": 0}
        self.bad_examples: list[dict] = []
        self.faults_cleared = 0
        self.rss_mb: list[tuple[float, float]] = []  # (s since start, resident MB), one a second
        self._fault_since_s: float | None = None
        self._cleared_s = -float("inf")
        self._next_rss_s = 0.0

    def watch(self, tick) -> None:
        now = self.clock()
        self._advance(now)
        self.phase_ticks[self.phase.value] += 1
        self.phase_held[self.phase.value] += bool(tick.held)
        st = self.rt.link.decoder.stats  # a new decoder after a reconnect starts from zero
        seen = (st.crc_failures + st.cobs_errors, self.rt.link.stats.commands_lost)
        self.phase_rejected[self.phase.value] += max(0, seen[0] - self._seen[0])
        self.phase_lost[self.phase.value] += max(0, seen[1] - self._seen[1])
        self._seen = seen
        self._check(tick, now)
        since = self._fault_since_s
        if since is not None and now - since >= self.clear_after_s and now - self._cleared_s >= self.clear_after_s:
            self.rt.link.clear_fault()  # the operator clears a latched fault (the loop's thread owns the link)
            self.faults_cleared += 1
            self._cleared_s = now
            self._fault_since_s = None  # a fault seen after this is a new latch, however soon
        if now - self.t0_s >= self._next_rss_s:
            self.rss_mb.append((round(now - self.t0_s, 2), rss_mb()))
            self._next_rss_s += 1.0

    def _advance(self, now: float) -> None:
        phase = CYCLE[int((now - self.t0_s) / self.phase_s) % len(CYCLE)]
        if phase is self.phase:
            return
        self.phase = phase
        for cable in self.cables:
            cable.set_phase(phase)
        self.stall.stall(phase is Phase.CAMERA_STALL)

    def _check(self, tick, now: float) -> None:
        """`now` is after the tick; what the tick acted on was observed at its start (tick.t_s)."""
        faults = self.arm.state().faults
        if not faults:
            self._fault_since_s = None
        elif self._fault_since_s is None:
            self._fault_since_s = now
        if tick.held or tick.command is None:
            return
        cfg = self.rt.loop.config
        t_obs = now if tick.t_s is None else tick.t_s
        started = self.stall.stall_started_s
        if started is not None and t_obs - started > cfg.max_frame_age_s:
            self._bad("stale_frame", tick, f"observed {t_obs - started:.3f} s into a camera stall")
        m = tick.measured
        off = None if m is None else np.abs(np.asarray(m) - self.arm.positions())
        if m is None or not np.all(np.isfinite(m)) or np.any(off > self.max_move):
            self._bad("corrupt_state", tick, f"measured {None if m is None else np.round(m, 4).tolist()}")
        since = self._fault_since_s
        if since is not None and t_obs - since > cfg.max_state_age_s + self.levels.max_delay_s:
            self._bad("while_faulted", tick, f"controller faults 0x{faults:X} latched {t_obs - since:.3f} s before "
                      "the tick's observation")

    def _bad(self, kind: str, tick, detail: str) -> None:
        self.bad[kind] += 1
        if len(self.bad_examples) < 20:
            self.bad_examples.append({"kind": kind, "step": tick.step, "phase": self.phase.value, "detail": detail})

    def report(self) -> dict:
        rss = [mb for _, mb in self.rss_mb]
        settled = rss[min(len(rss) - 1, int(len(CYCLE) * self.phase_s))] if rss else None  # after one cycle
        return {"phase_s": self.phase_s, "levels": dataclasses.asdict(self.levels),
                "phase_ticks": self.phase_ticks, "phase_held": self.phase_held,
                "phase_frames_rejected": self.phase_rejected, "phase_commands_lost": self.phase_lost,
                "commands_from_bad_data": dict(self.bad),
                "bad_examples": self.bad_examples, "faults_cleared_by_operator": self.faults_cleared,
                "junk_bytes": sum(c.junk_bytes_sent for c in self.cables),
                "cable": [c.stats.as_dict() for c in self.cables],
                "rss_mb": {"start": rss[0] if rss else None, "after_one_cycle": settled,
                           "end": rss[-1] if rss else None, "max": max(rss) if rss else None,
                           "growth_after_one_cycle": None if settled is None else round(rss[-1] - settled, 2)},
                "rss_series": self.rss_mb}


def rss_mb() -> float:
    """This process's resident set, MB (Linux /proc)."""
    import os

    with open("/proc/self/statm") as f:
        return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20, 2)
