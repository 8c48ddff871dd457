"""Why the arm held, and what went wrong: counted by reason, said as it happens, summed up as an exit status.

The loop tells the `HoldLedger` every tick (`tick(now_s, step, hold)`) and every fault (`fault(key, detail)`). The
report's `holds` (ticks) and `faults` (occurrences) are keyed by reason only, so a run has a handful of keys
however long it is; the changing details (a frame's age, the link's error text) are kept beside them, the last
one per reason (`hold_details`, `fault_details`).

Said on stderr (`say`, None: silent, as in evaluation): one line when a hold starts and one when the arm resumes.
Rate-limited per reason: a hold that persists is said once, then "still holding" every `repeat_s`; holds of the
same reason that start within `repeat_s` of the last one said are counted quietly and summed up in the next line
said for that reason (or at `finish`). Expected holds (waiting for the first state after a restart, for the first
chunk of a plan) are said only when they last longer than `slow_s`.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import Callable


class HoldReason(str, enum.Enum):
    LINK_DOWN = "link down"
    NO_STATE = "no fresh arm state"
    RESTARTING = "waiting for a state after restart"  # expected: the loop started over (new episode)
    BAD_STATE = "non-finite arm state"
    CONTROLLER_FAULT = "controller fault"
    SERVO_FAULT = "servo fault"  # a servo arm's latched condition: the subject names the joint and the condition
    STALE_CAMERA = "stale camera"
    CAMERA_STOPPED = "camera stopped"
    NO_ACTION = "no action queued"  # expected while the first chunk of a plan is computed
    UNSAFE_TARGET = "unsafe target"  # the safety filter refused a target (non-finite values)

    __str__ = str.__str__
    __format__ = str.__format__


EXPECTED = frozenset({HoldReason.RESTARTING, HoldReason.NO_ACTION})
LATCHED = frozenset({HoldReason.CONTROLLER_FAULT, HoldReason.SERVO_FAULT})  # the arm refuses commands until cleared


class ExitStatus(enum.IntEnum):
    """`vla-lite run`'s exit status (2 is a refused start: bad arguments, a bundle or port that cannot be used)."""

    OK = 0  # ran as asked
    HELD_BY_FAULT = 3  # the run ended with the arm held by a fault (a controller or servo fault latched, no fresh
    # state, ...)
    CAMERA_DIED = 4  # a camera's capture stopped for good during the run
    LINK_LOST = 5  # the link to the controller was lost and not regained by the end


EXIT_STATUS_HELP = """exit status:
  0  ran as asked
  2  refused to start: a bad argument, a bundle, port or camera that cannot be used
  3  the run ended with the arm held by a fault (a controller or servo fault latched, no fresh arm state, a stale
     camera): the report's outcome line and exit_reason name it, e.g. "servo fault elbow_flex (ID 3)
     over-temperature"
  4  a camera's capture stopped for good during the run (its error is in the report's fault_details)
  5  the link to the controller was lost and not regained by the end
  130 interrupted before the loop started (Ctrl-C); a Ctrl-C or SIGTERM during the run stops it cleanly and the
      status is that of the run so far"""


@dataclass(frozen=True)
class Hold:
    reason: HoldReason
    subject: str = ""  # what it is about when there can be several: the camera's name, the controller's fault
    # flags, the servos and conditions latched ("elbow_flex (ID 3) over-temperature")
    detail: str = ""  # what changes from tick to tick (a frame's age, an error's text): kept beside the count

    @property
    def key(self) -> str:
        return f"{self.reason.value} {self.subject}" if self.subject else self.reason.value


class HoldLedger:
    def __init__(self, say: Callable[[str], None] | None = None, repeat_s: float = 10.0, slow_s: float = 0.5,
                 prefix: str = "vla-lite run: "):
        self.say, self.repeat_s, self.slow_s, self.prefix = say, repeat_s, slow_s, prefix
        self.holds: Counter = Counter()  # key -> ticks held
        self.faults: Counter = Counter()  # key -> occurrences
        self.hold_details: dict[str, str] = {}
        self.fault_details: dict[str, str] = {}
        self.current: Hold | None = None  # the hold in force after the last tick
        self._run_ticks = 0
        self._run_start_s = self._run_said_s = 0.0
        self._run_said = False
        self._last_said_s: dict[str, float] = {}
        self._quiet: Counter = Counter()  # key -> holds not said since the last line for it
        self._quiet_ticks: Counter = Counter()

    def tick(self, now_s: float, step: int, hold: Hold | None) -> None:
        """One tick: held for `hold` (None: the arm was commanded)."""
        cur = self.current
        if hold is None:
            if cur is not None:
                self._end_run(now_s, step, resumed=True)
            return
        key = hold.key
        self.holds[key] += 1
        if hold.detail:
            self.hold_details[key] = hold.detail
        if cur is None or cur.key != key:
            was_said = cur is not None and self._run_said  # the person was told the arm holds: say what now
            if cur is not None:
                self._end_run(now_s, step, resumed=False)
            self.current, self._run_ticks, self._run_start_s, self._run_said = hold, 0, now_s, False
            if hold.reason not in EXPECTED or was_said:
                self._start_said(now_s, step, hold, force=was_said)
        self.current = hold
        self._run_ticks += 1
        if not self._run_said and hold.reason in EXPECTED and now_s - self._run_start_s >= self.slow_s:
            self._start_said(now_s, step, hold, late=True)
        elif self._run_said and now_s - self._run_said_s >= self.repeat_s:
            self._say(f"still holding: {key}, {self._run_ticks} ticks ({now_s - self._run_start_s:.1f} s)")
            self._run_said_s = now_s

    def _start_said(self, now_s: float, step: int, hold: Hold, late: bool = False, force: bool = False) -> None:
        key = hold.key
        if not (late or force) and now_s - self._last_said_s.get(key, -float("inf")) < self.repeat_s:
            return  # counted quietly; summed up in the next line said for this key
        quiet = self._quiet_summary(key)
        since = f" for {now_s - self._run_start_s:.1f} s" if late else ""
        verb = "still holding, now" if force else "holding"
        self._say(f"{verb} at tick {step}{since}: {key}" + (f" ({hold.detail})" if hold.detail else "") + quiet)
        self._run_said, self._run_said_s, self._last_said_s[key] = True, now_s, now_s

    def _end_run(self, now_s: float, step: int, resumed: bool) -> None:
        cur = self.current
        if self._run_said:
            if resumed:
                self._say(f"resumed at tick {step} after {self._run_ticks} ticks ({now_s - self._run_start_s:.2f} s)"
                          f" held: {cur.key}")
        elif cur.reason not in EXPECTED:
            self._quiet[cur.key] += 1
            self._quiet_ticks[cur.key] += self._run_ticks
        self.current, self._run_ticks, self._run_said = None, 0, False

    def _quiet_summary(self, key: str) -> str:
        n, ticks = self._quiet.pop(key, 0), self._quiet_ticks.pop(key, 0)
        return f"; {n} more such holds ({ticks} ticks) since the last line" if n else ""

    def fault(self, key: str, detail: str = "", now_s: float = 0.0) -> None:
        """A fault occurred (counted per occurrence: a fault latching, a link lost, a camera stopping, a bad
        policy output). Said at its first occurrence, then at most every repeat_s with the count so far."""
        self.faults[key] += 1
        if detail:
            self.fault_details[key] = detail
        said = f"fault {key}"
        if now_s - self._last_said_s.get(said, -float("inf")) >= self.repeat_s:
            n = self.faults[key]
            self._say(f"fault: {key}" + (f" ({detail})" if detail else "") + (f" [{n} so far]" if n > 1 else ""))
            self._last_said_s[said] = now_s

    def note(self, text: str) -> None:
        """A line that is neither a hold nor a fault (the link regained, a fault cleared)."""
        self._say(text)

    def finish(self, now_s: float) -> None:
        """End of the run: say what was counted quietly and not yet said."""
        if self.current is not None and not self._run_said and self.current.reason not in EXPECTED:
            self._quiet[self.current.key] += 1
            self._quiet_ticks[self.current.key] += self._run_ticks
            self._run_said = True  # counted once
        for key in sorted(self._quiet):
            self._say(f"{key}: {self._quiet[key]} more short holds ({self._quiet_ticks[key]} ticks) not said above")
        self._quiet.clear()
        self._quiet_ticks.clear()

    def exit_status(self) -> ExitStatus:
        """The exit status this run's faults and final hold call for."""
        cur = self.current
        if cur is not None and cur.reason is HoldReason.LINK_DOWN:
            return ExitStatus.LINK_LOST
        if any(k.startswith(HoldReason.CAMERA_STOPPED.value) for k in self.faults):
            return ExitStatus.CAMERA_DIED
        if cur is not None and cur.reason not in EXPECTED:
            return ExitStatus.HELD_BY_FAULT
        return ExitStatus.OK

    def exit_reason(self) -> str | None:
        """What decided exit_status(): the final hold's key, or the camera that stopped; None when OK."""
        status, cur = self.exit_status(), self.current
        if status is ExitStatus.CAMERA_DIED:
            return next(k for k in self.faults if k.startswith(HoldReason.CAMERA_STOPPED.value))
        return None if status is ExitStatus.OK else cur.key

    def report(self) -> dict:
        cur = self.current
        return {"holds": dict(self.holds), "hold_details": dict(self.hold_details), "faults": dict(self.faults),
                "fault_details": dict(self.fault_details), "held_at_end": None if cur is None else cur.key,
                "exit_reason": self.exit_reason()}

    def _say(self, text: str) -> None:
        if self.say is not None:
            self.say(self.prefix + text)
