"""A servo-bus arm (SO-100/SO-101: Feetech STS3215; Koch: Dynamixel X) as the control loop sees an arm controller.

    arm = ServoArm.open("/dev/ttyACM0", "so101", "cal.json")    # profile name or JSON file; calibration or file
    arm.poll(); arm.latest_state.position                         # rad per joint, the gripper a 0..1 fraction
    arm.send_command(Mode.JOINT_POSITION, target, valid_ms=100)  # -> Goal_Position counts via the calibration
    arm.close()                                                   # torque per the exit policy (TorquePolicy)

It offers what the loop uses of `ArmLink` (vla_lite.loop), so bundles, the safety filter, recording and reports
work unchanged: `info` (an ArmConfig: the joints as LeRobot names them, units, limits from the calibrated ranges,
speeds from the servo model, the rate), `poll`, `latest_state` / `latest_state_s` / `latest_state_taken_s`,
`send_command`, `heartbeat`, `settle`, `wait_reply`, `request`, `sign_off`, `run_notes`, `connected` / `fault`,
`stats`. A tick is one SYNC_READ (in poll, the loop's observe section) and one SYNC_WRITE (send_command, its send
section) in the loop's own thread: no extra thread and no second serial hop.

- Complete or nothing: `latest_state` is the newest sync read in which every joint was read fresh; a read with a
  missing or corrupt reply gives no state, and the last complete one stays, dated by when it was taken
  (`latest_state_taken_s`). The loop's age rule then holds the arm ("no fresh arm state": the servos keep the last
  safe goal) once that state is older than max_state_age_s; no goal is ever computed from a value the bus marked
  stale. Every lost reading is counted (stats: readings_lost, incomplete_reads).
- Goals are clipped to each joint's calibrated range (calib.ArmCalibration.to_counts); the bus withholds a sync
  write while a reply may still be on the half-duplex line (the servos keep their previous goal), counted.
- Health: the bus's latched conditions (over-temperature, under-voltage, overload, ...) are State.faults HARDWARE,
  so the loop holds, naming each servo and condition (`named_faults`); `clear_fault()` (run --clear-faults) clears
  them.
- Link loss (the port fails, or LINK_LOSS_READS incomplete reads in a row over LINK_LOSS_S): the link is down
  and the loop holds ("link fault"). HOLD retries and carries on when the arm answers again; RELEASE turns torque
  off as soon as the bus lets it and stays down. On close (end of run, Ctrl-C, SIGTERM): HOLD leaves torque on,
  the servos holding the last goal; RELEASE turns it off (the arm goes limp). EEPROM is never written: only
  Goal_Position and Torque_Enable (RAM).
"""

from __future__ import annotations

import enum
import math
import time
from typing import Callable

import numpy as np

from .calib.arm_calibration import ArmCalibration
from .calib.arm_profiles import register_arm_profile
from .calib.errors import ArmReadError, CalibrationMismatch
from .calib.guided import offset_mismatches, read_positions
from .calib.user_files import find_calibration
from .firmware_bridge import protocol as p
from .firmware_bridge.servo import (ArmProfile, BusConfig, ServoBus, ServoBusError, ServoLinkError, ServoTimeout,
                                    load_arm)
from .firmware_bridge.servo.lockstep import LockstepPeer
from .servo_arm_info import ServoArmStats, arm_config

LINK_LOSS_S = 1.0  # incomplete reads in a row for this long (and LINK_LOSS_READS of them): the link is down
LINK_LOSS_READS = 10  # (time between reads alone, as while the runtime starts up, is not a loss)
OPEN_BUDGET_S = 0.1  # per setup transaction at open (not in a tick: a busy host or slow adapter may take its time)
# Each setup step at open (first reading, homing offsets, torque on) is retried for this long: an adapter's first
# replies (an FTDI chip's 16 ms latency timer) or a busy host (a simulated bus served in-process, starved for a few
# hundred ms on a loaded machine: seen in CI) can miss reply windows; a servo still silent after it is named.
OPEN_RETRY_S = 1.0
RECONNECT_S = (0.05, 2.0)  # back-off between attempts to reopen a failed port (doubling)


class TorquePolicy(str, enum.Enum):
    HOLD = "hold"  # torque stays on: the servos hold the last goal (the loop's last command was a hold)
    RELEASE = "release"  # torque off: the arm goes limp (support it)


class ServoArm:
    """Use ServoArm.open(); then poll() and send_command() once per tick, from one thread."""

    def __init__(self, bus: ServoBus, cal: ArmCalibration, *, on_exit: TorquePolicy = TorquePolicy.HOLD,
                 clock: Callable[[], float] = time.monotonic):
        self.bus, self.calibration, self.on_exit, self.clock = bus, cal, TorquePolicy(on_exit), clock
        self.url, self.profile = bus.url, bus.profile
        self.info = arm_config(bus.profile, cal, max_rate_hz=1.0 / bus.config.budget_s)
        self.stats = ServoArmStats(bus)
        self.fault: str | None = None  # why the link is down
        self.latest_state: p.State | None = None
        self.latest_state_s: float | None = None
        self.latest_state_taken_s = -math.inf  # clock() when the sync read behind latest_state began
        self._up, self._released, self._port_failed, self._seq = True, False, False, 0
        self._incomplete_since_s: float | None = None  # the first of the incomplete reads in a row
        self._incomplete_reads = 0  # ... and how many
        self._next_attempt_s, self._backoff_s, self._next_release_s = 0.0, RECONNECT_S[0], 0.0

    @classmethod
    def open(cls, device: str, profile: ArmProfile | str, calibration: ArmCalibration | str | None = None, *,
             config: BusConfig = BusConfig(), baudrate: int | None = None, on_exit: TorquePolicy | str = "hold",
             clock: Callable[[], float] = time.monotonic, lockstep: LockstepPeer | None = None) -> "ServoArm":
        """Open the bus, check every servo answers and holds the calibration's homing offsets, set each goal to
        its present position and turn torque on (nothing moves). profile: a name (so100, so101, koch) or a JSON
        file; calibration: an ArmCalibration, a file, or None for the arm's default file (calib.user_files);
        lockstep: the far end of a simulated bus stepped in simulated time, whose pace the bus keeps
        (firmware_bridge/servo/lockstep.py), None on a real bus. Raises ServoBusError (the port, a refused write)
        or CalibrationError (no file, another arm's, a silent servo, offsets the servos do not hold); nothing
        stays open then."""
        profile = load_arm(profile) if isinstance(profile, str) else profile
        register_arm_profile(profile)  # a user's --arm FILE: its calibration files load by its name
        cal = calibration if isinstance(calibration, ArmCalibration) else \
            find_calibration(profile.name, calibration, device)[0]
        if cal.arm != profile.name:
            raise CalibrationMismatch(f"the calibration is a {cal.arm!r} arm's; the bus is a {profile.name!r}")
        bus = ServoBus.open(device, profile, config, baudrate, lockstep)
        try:
            _take_over(bus, cal)
            arm = cls(bus, cal, on_exit=on_exit, clock=clock)
        except BaseException:
            bus.close()
            raise
        arm.poll()
        return arm

    # --- what the loop calls --------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._up

    def poll(self) -> p.State | None:
        """One sync read of every joint (or a reconnection attempt while down). The new State when all joints
        were read fresh, else None. Never raises for bus trouble: check `connected` and `fault`."""
        if self._released or (not self._up and self.clock() < self._next_attempt_s):
            return None
        try:
            if self._port_failed:
                self.bus.reopen()
                self._port_failed = False
            return self._read()
        except ServoLinkError as exc:
            self._down(str(exc), port_failed=True)
            return None

    def _read(self) -> p.State | None:
        t0, taken_s = time.perf_counter(), self.clock()
        reading = self.bus.read_positions()
        now = self.clock()
        self.stats.on_read(reading, time.perf_counter() - t0)
        if not reading.all_fresh:
            # No state from a read that missed a servo; the last complete one stays, dated by when it was taken,
            # so the loop's age rule holds the arm once a joint stays unread past max_state_age_s (one lost reply
            # on a half-duplex bus is not a hold, as one lost STATE is not on the vla-lite link)
            if self._incomplete_since_s is None:
                self._incomplete_since_s = now
            self._incomplete_reads += 1
            lost_s = now - self._incomplete_since_s
            if lost_s >= LINK_LOSS_S and self._incomplete_reads >= LINK_LOSS_READS:
                stale = [n for n, ok in zip(self.profile.names, reading.fresh) if not ok]
                self._down(f"no complete reading from {self.url} in {self._incomplete_reads} reads over "
                           f"{1e3 * lost_s:.0f} ms (silent: {', '.join(stale)})")
            return None
        self._incomplete_since_s, self._incomplete_reads = None, 0
        if not self._up:
            if self.on_exit is TorquePolicy.RELEASE:
                self._release(self.fault or "link lost")
                return None
            if not self.bus.write_goals(reading.values.tolist()):  # hold where the arm is now
                return None
            self._up, self.fault, self._backoff_s = True, None, RECONNECT_S[0]
            self.stats.reconnects += 1
        faults = p.Fault.HARDWARE if self.bus.health.faults() else p.Fault(0)
        status = p.Status.ENABLED | p.Status.LINKED | (p.Status.FAULTED if faults else p.Status(0))
        zeros = (0.0,) * len(reading.values)
        st = p.State(self._seq, int(now * 1e6) & 0xFFFFFFFFFFFFFFFF, int(status), int(faults),
                     tuple(float(x) for x in self.calibration.to_units(reading.values)), zeros, zeros)
        self.latest_state, self.latest_state_s, self.latest_state_taken_s = st, now, taken_s
        self.stats.states_received += 1
        return st

    def send_command(self, mode: p.Mode, target, valid_ms: int) -> int | None:
        """Goal_Position of every joint from `target` (joint units, joint order); the seq, or None when nothing
        was sent (link down, the line not clean: the servos keep their previous goal). valid_ms is not used: a
        servo holds its goal until told otherwise."""
        if not self._up:
            return None
        if p.Mode(mode) is not p.Mode.JOINT_POSITION:
            raise ValueError(f"a servo arm takes joint_position commands, got {p.Mode(mode).name.lower()}")
        counts = self.calibration.to_counts(np.asarray(target, np.float64))  # ValueError on a non-finite target
        try:
            written = self.bus.write_goals(counts.tolist())
        except ServoLinkError as exc:
            self._down(str(exc), port_failed=True)
            return None
        if not written:
            self.stats.commands_lost += 1
            return None
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self.stats.commands_sent += 1
        return self._seq

    def heartbeat(self) -> int | None:
        """Nothing to send: the servos have no watchdog to feed (the next poll reads the state)."""
        return self._seq if self._up else None

    def settle(self, timeout_s: float = 0.5) -> bool:
        """A sync write gets no reply, so nothing is on its way once it is sent: True while connected."""
        return self._up

    def sign_off(self, timeout_s: float = 0.5) -> bool:
        """The end of a clean run (ArmLink's disarms the controller's watchdog): servos have no watchdog to
        disarm, and the torque at exit is close()'s, per the exit policy. True while connected."""
        return self._up

    def wait_reply(self, after_count: int | None = None, timeout_s: float = 0.5) -> bool:
        """Read until more than after_count states have arrived (real time, up to timeout_s)."""
        deadline = time.monotonic() + timeout_s
        while self._up and after_count is not None and self.stats.states_received <= after_count:
            if time.monotonic() >= deadline:
                return False
            self.poll()
        return self._up

    def request(self, msg, timeout_s: float = 0.5) -> p.State | None:
        """CLEAR_FAULT, TORQUE or HEARTBEAT, then the next state."""
        if isinstance(msg, p.ClearFault):
            self.clear_fault()
        elif isinstance(msg, p.Torque):
            self.torque(msg.enable)
        before = self.stats.states_received
        self.wait_reply(before, timeout_s)
        return self.latest_state

    def clear_fault(self, mask: int = 0xFFFF) -> None:
        """Forget the servos' latched health conditions (causes still present latch again)."""
        self.bus.health.clear()

    def torque(self, enable: bool) -> None:
        self.bus.torque(enable)

    def health_faults(self) -> list[str]:
        return [f.reason for f in self.bus.health.faults()]

    def named_faults(self) -> list[tuple[str, str]]:
        """(subject, detail) of each latched servo condition, e.g. ("elbow_flex (ID 3) over-temperature",
        "temperature 71 °C >= limit 70 °C"): what the loop's holds and faults name (observation.NamesFaults)."""
        return [(f.subject, f.detail) for f in self.bus.health.faults()]

    def run_notes(self) -> list[str]:
        """What the run report adds about the bus: lost readings, withheld goals, latched servo conditions."""
        d = self.stats.as_dict()
        notes = [f"servo bus: {d['reads']} sync reads, {d['incomplete_reads']} incomplete (held), "
                 f"{d['readings_lost']} joint readings lost, {d['goals_withheld']} goal writes withheld; torque "
                 f"at exit: {self.on_exit.value}"]
        return notes + [f"servo condition: {reason}" for reason in d["health_faults"]]

    # --- link loss and closing ------------------------------------------------------------------------------

    def _down(self, reason: str, port_failed: bool = False) -> None:
        """The link is lost: the loop holds. A failed port is reopened with back-off; silent servos are read
        again every poll. HOLD carries on when every joint answers again (goals set to where they are); RELEASE
        turns torque off as soon as the servos take it and stays down."""
        if self._up:
            self.stats.link_faults += 1
        self._up, self.fault = False, reason
        self._port_failed = self._port_failed or port_failed
        self._next_attempt_s = self.clock() + (self._backoff_s if port_failed else 0.0)
        self._backoff_s = min(2 * self._backoff_s, RECONNECT_S[1]) if port_failed else self._backoff_s
        if self.on_exit is TorquePolicy.RELEASE and not port_failed:
            self._release(reason)

    def _release(self, reason: str) -> None:
        now = self.clock()
        if now < self._next_release_s:
            return  # torque off was refused lately: not on every tick (each try costs a reply window per servo)
        self._next_release_s = now + 0.5
        try:
            self.bus.torque(False)
            self._released = True
            self.fault = f"{reason}; torque released (--on-exit release): restart the run"
        except ServoBusError as exc:  # not now: the next poll tries again
            self.fault = f"{reason}; torque off not confirmed yet ({exc})"

    def close(self) -> None:
        """Apply the exit policy (RELEASE: torque off, each servo acknowledged) and close the port. Safe twice."""
        if self.on_exit is TorquePolicy.RELEASE and not self._released:
            try:
                self.bus.torque(False, budget_s=OPEN_BUDGET_S)
                self._released = True
            except ServoBusError as exc:
                self.fault = f"torque off at exit not confirmed: {exc}"
        self._up = False
        self.bus.close()

    def __enter__(self) -> "ServoArm":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _take_over(bus: ServoBus, cal: ArmCalibration) -> None:
    """Every servo answers and holds the calibration's offsets; goals := present positions; torque on. Each step
    is retried for OPEN_RETRY_S (at start-up a busy host can miss reply windows sized for the loop)."""
    present = _retried(lambda: read_positions(bus), ArmReadError)  # ArmReadError naming a silent servo
    mismatch = _retried(lambda: offset_mismatches(bus, cal, budget_s=OPEN_BUDGET_S), ServoTimeout)
    if mismatch:
        differ = ", ".join(f"{n} servo {a} file {b}" for n, (a, b) in mismatch.items())
        raise CalibrationMismatch(f"the servos on {bus.url} do not hold this calibration's homing offsets ({differ}): "
                                  f"use this arm's file, or recalibrate with `vla-lite calibrate --port {bus.url} "
                                  f"--arm {cal.arm}`")
    if not bus.write_goals(present.tolist(), budget_s=OPEN_BUDGET_S):
        raise ServoLinkError(f"{bus.url}: the line never came clean to set the goals before torque on")
    _retried(lambda: bus.torque(True, budget_s=OPEN_BUDGET_S), ServoTimeout)


def _retried(step, error: type[Exception]):
    """step() retried while it raises `error`, for OPEN_RETRY_S (real time: at open); the last error then."""
    deadline_s = time.monotonic() + OPEN_RETRY_S
    while True:
        try:
            return step()
        except error:
            if time.monotonic() >= deadline_s:
                raise
            time.sleep(0.02)


def connect(device: str, profile: ArmProfile | str, calibration: ArmCalibration | str | None = None, *,
            baudrate: int | None = None, on_exit: TorquePolicy | str = "hold", clock=time.monotonic) -> ServoArm:
    """The BUS connector registered in vla_lite.ports for so100, so101, koch (and --arm FILE): ServoArm.open."""
    return ServoArm.open(device, profile, calibration, baudrate=baudrate, on_exit=on_exit, clock=clock)
