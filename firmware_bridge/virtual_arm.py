"""The virtual arm controller: PROTOCOL.md §3 as pure logic. Packets in, messages out, time passed in.

No I/O and no clock: `handle(packet, now_s)` and `step(now_s)` take the controller's monotonic time in seconds,
so the watchdog, `valid_ms` expiry and the joint dynamics are tested with fake time. `arm_server` serves it on a
pty or a TCP port; a simulated world reads `positions()` from another thread (every method takes one lock).

Joint model: each joint tracks its target time-optimally within vel_max and acc_max (a trapezoidal profile that
brakes in time to stop on the target), integrated in substeps of at most 1 ms. Effort is what that acceleration
takes: 0.5·effort_max at acc_max, clipped to ±effort_max. Torque off makes the arm limp; this simulation has no
gravity, so a limp joint stops where it is. Joints never pass their limits (hard stops).

EE_DELTA is offered only when a kinematics object is given: anything with

    ee_delta_to_joint_targets(positions: np.ndarray, delta: np.ndarray) -> np.ndarray

taking the (n_joints,) measured positions and the 4- or 7-value delta of PROTOCOL.md §2 (dx dy dz [drx dry drz]
gripper; m, rad, gripper −1 open … +1 close), returning (n_joints,) joint position targets, and raising ValueError
when it cannot (unreachable pose, unsupported delta size). The targets are then checked and tracked like a
JOINT_POSITION command. `CartesianKinematics` is the one for a gantry arm.

A controller with its own plant (vla_lite.worlds.metaworld: a physics simulator stepping in fixed ticks) subclasses
VirtualArm and keeps every rule below, replacing only the dynamics: it sets `PLANT_EE_DELTA = True` and overrides
`_ee_delta_target` (EE_DELTA -> internal mode and target, raising `CommandRefused`) and `_integrate` (advance the
plant to a time, reading `_mode`, `_target` and `_torque`; `_advance` stops it at every expiry and watchdog event).

Where §3 is silent, this controller chooses the safe side:
- a COMMAND before a HELLO of this protocol and schema is refused (LOG VERSION_MISMATCH), as are CLEAR_FAULT and
  TORQUE 1 from such a host; ESTOP and TORQUE 0 are obeyed from anyone;
- a foreign HELLO also latches the VERSION fault;
- a COMMAND while torque is off (after TORQUE 0) is refused (LOG REFUSED_WHILE_FAULTED): it could not be tracked;
- every COMMAND of a linked host feeds the watchdog, refused or not (the link is alive), and CLEAR_FAULT restarts
  the silence window, so a cleared watchdog does not trip again at once.
"""

from __future__ import annotations

import dataclasses
import math
import threading
from collections import deque
from typing import NamedTuple, Protocol

import numpy as np

from .arm_config import ArmConfig
from .protocol import (MAX_JOINTS, PROTOCOL_MAJOR, PROTOCOL_MINOR, SCHEMA_HASH, ClearFault, Command, Estop, Fault,
                       ForeignVersion, Heartbeat, Hello, Log, LogCode, Message, Mode, MsgType, Packet, State, Status,
                       Torque)

SUBSTEP_S = 1e-3  # integration step bound
MAX_SUBSTEPS = 10_000  # per call: a gap longer than 10 s integrates in coarser steps rather than stalling
WARNING, ERROR = 2, 3  # LOG levels
_MAX_LOG_BYTES = 64  # str8 limit of PROTOCOL.md §2

_HOLD, _POSITION, _VELOCITY = 0, 1, 2  # what the joints are doing
# Status and fault bits as plain ints: IntFlag arithmetic costs microseconds on the per-command path.
_WATCHDOG, _TORQUE_OFF, _ESTOP, _VERSION = (int(f) for f in (Fault.WATCHDOG, Fault.TORQUE_OFF, Fault.ESTOP,
                                                            Fault.VERSION))
_ENABLED, _HOLDING, _MOVING, _S_ESTOP, _FAULTED, _REJECTED, _LINKED = (int(s) for s in Status)


class Kinematics(Protocol):
    def ee_delta_to_joint_targets(self, positions: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """(n_joints,) joint position targets for an end-effector delta from `positions`. ValueError if impossible."""


class CommandRecord(NamedTuple):
    t_s: float
    seq: int
    command: Command
    accepted: bool


class CommandRefused(Exception):
    """A COMMAND the controller will not apply: raised by the checks and by a plant's `_ee_delta_target` hook;
    the arm answers with a LOG of `code` and `text`."""

    def __init__(self, code: LogCode, text: str):
        super().__init__(text)
        self.code, self.text = code, text


def _log(level: int, code: LogCode, text: str) -> Log:
    raw = text.encode("utf-8")[:_MAX_LOG_BYTES]
    return Log(level, int(code), raw.decode("utf-8", "ignore"))


def _widened(values, outward: int) -> np.ndarray:
    """Limits widened to also take their f32 rounding (what a host reads in HELLO_ACK): a host sending exactly
    an announced limit, and a caller giving exactly the nominal one, are both inside. outward: -1 low, +1 high."""
    nominal = np.asarray(values, np.float64)
    as_f32 = nominal.astype(np.float32).astype(np.float64)
    return np.maximum(nominal, as_f32) if outward > 0 else np.minimum(nominal, as_f32)


class VirtualArm:
    """The controller side of PROTOCOL.md §3 for `config`'s joints; see the module docstring."""

    PLANT_EE_DELTA = False  # a subclass converting EE_DELTA itself (overriding _ee_delta_target) sets True

    def __init__(self, config: ArmConfig, initial_position: np.ndarray | None = None, kinematics=None,
                 now_s: float = 0.0, *, command_log_len: int = 1024):
        modes = tuple(m for m in config.modes if m != Mode.EE_DELTA)
        if kinematics is not None:
            if not callable(getattr(kinematics, "ee_delta_to_joint_targets", None)):
                raise TypeError(f"kinematics {type(kinematics).__name__} has no ee_delta_to_joint_targets method")
            modes += (Mode.EE_DELTA,)
        elif self.PLANT_EE_DELTA and Mode.EE_DELTA in config.modes:
            modes += (Mode.EE_DELTA,)
        elif Mode.EE_DELTA in config.modes:
            raise ValueError(f"{config.name!r} offers EE_DELTA but no kinematics was given to convert it")
        self.config = dataclasses.replace(config, modes=modes)  # what HELLO_ACK announces
        self.kinematics = kinematics
        joints = config.joints
        if not 1 <= len(joints) <= MAX_JOINTS:
            raise ValueError(f"{config.name!r} has {len(joints)} joints; the protocol carries 1 to {MAX_JOINTS}")
        if not 0 < config.watchdog_ms <= 0xFFFF or not 0 <= config.torque_off_ms <= 0xFFFF:
            raise ValueError(f"watchdog_ms must be 1..65535 and torque_off_ms 0..65535 (0: never), got "
                             f"{config.watchdog_ms} and {config.torque_off_ms}")
        self.n = len(joints)
        self._names = [j.name for j in joints]
        self._pos_min = _widened([j.pos_min for j in joints], -1)
        self._pos_max = _widened([j.pos_max for j in joints], +1)
        self._vel_max = np.array([j.vel_max for j in joints], np.float64)  # tracking speed
        self._vel_max_list = _widened(self._vel_max, +1).tolist()  # what a command may ask
        self._acc_max = np.array([j.acc_max for j in joints], np.float64)
        self._effort_max = np.array([j.effort_max for j in joints], np.float64)
        self._pos_min_list, self._pos_max_list = self._pos_min.tolist(), self._pos_max.tolist()
        for i, name in enumerate(self._names):
            if not (self._pos_min[i] < self._pos_max[i] and self._vel_max[i] > 0 and self._acc_max[i] > 0
                    and self._effort_max[i] >= 0):
                raise ValueError(f"joint {name!r}: need pos_min < pos_max and vel_max, acc_max > 0, effort_max >= 0; "
                                 f"got {joints[i]}")
        self._mode_values = frozenset(int(m) for m in modes)
        self._watchdog_s = config.watchdog_ms / 1000
        self._torque_off_s = config.torque_off_ms / 1000
        self._hello_ack = self.config.hello_ack()
        if initial_position is None:
            initial_position = np.clip(np.zeros(self.n), self._pos_min, self._pos_max)
        self._pos = self._checked_positions(initial_position, "initial_position")
        self._vel = np.zeros(self.n)  # rad/s or m/s
        self._eff = np.zeros(self.n)  # N·m or N
        self._lock = threading.Lock()
        self._t0_s = self._t_s = float(now_s)
        self._mode = _HOLD
        self._target = np.zeros(self.n)  # positions (_POSITION) or velocities (_VELOCITY)
        self._settled = False  # standing still, efforts zero, nothing to integrate until mode or target change
        self._vecs: tuple | None = None  # STATE's position, velocity, effort tuples and "moving", until they change
        self._expiry_s = math.inf
        self._torque = True
        self._faults = 0
        self._linked = False  # a HELLO of our major and schema came last
        self._armed = False  # watchdog: a COMMAND or HEARTBEAT arrived since that HELLO
        self._last_feed_s = self._t_s
        self._ack_seq = 0
        self._rejected = False
        self.commands_received = 0
        self.commands_rejected = 0
        self.command_log: deque[CommandRecord] = deque(maxlen=command_log_len)

    # --- the API ------------------------------------------------------------------------------------------

    def handle(self, packet: Packet, now_s: float) -> list[Message]:
        """Advance to now_s, then act on one received packet. Returns the messages to send, in order: anything a
        fault tripped on the way, then the reply (HELLO -> HelloAck, State; COMMAND etc. -> [Log,] State)."""
        with self._lock:
            out = self._advance(now_s)
            msg = packet.msg
            kind = type(msg)
            if kind is Command:
                out += self._on_command(packet.seq, msg, now_s)
            elif kind is Heartbeat:
                self._feed(now_s)
                out.append(self._state())
            elif kind is Hello:
                out += self._on_hello(msg)
            elif kind is Estop:
                self._faults |= _ESTOP
                self._hold()  # decelerate at acc_max, then hold
                out += [_log(ERROR, LogCode.ESTOP, "ESTOP: stopping at acc_max; latched until CLEAR_FAULT"),
                        self._state()]
            elif kind is ClearFault:
                out += self._on_clear_fault(msg.mask, now_s)
            elif kind is Torque:
                out += self._on_torque(msg.enable)
            elif kind is ForeignVersion:
                out += self._on_foreign(msg)
            # STATE, HELLO_ACK and LOG from a host need no reply.
            return out

    def step(self, now_s: float) -> list[Message]:
        """Advance dynamics, valid_ms expiry and the watchdog to now_s; returns the unprompted LOG + STATE of any
        fault that tripped on the way."""
        with self._lock:
            return self._advance(now_s)

    def positions(self) -> np.ndarray:
        """(n_joints,) copy of the joint positions, rad or m."""
        with self._lock:
            return self._pos.copy()

    def state(self) -> State:
        with self._lock:
            return self._state()

    def reset(self, positions: np.ndarray) -> None:
        """Teleport to `positions` (between simulated episodes): motion stops and the arm holds there. Latched
        faults stay latched."""
        pos = self._checked_positions(positions, "reset positions")
        with self._lock:
            self._pos = pos
            self._limp()

    # --- messages -----------------------------------------------------------------------------------------

    def _on_hello(self, msg: Hello) -> list[Message]:
        self._armed = False  # re-armed by the next COMMAND or HEARTBEAT
        if msg.schema_hash != SCHEMA_HASH:
            self._linked = False
            self._faults |= _VERSION
            return [self._hello_ack, _log(ERROR, LogCode.SCHEMA_MISMATCH,
                                          f"schema 0x{msg.schema_hash:08X} != 0x{SCHEMA_HASH:08X}: host refused"),
                    self._state()]
        self._linked = True
        return [self._hello_ack, self._state()]

    def _on_foreign(self, msg: ForeignVersion) -> list[Message]:
        self._linked = False
        self._faults |= _VERSION
        log = _log(ERROR, LogCode.VERSION_MISMATCH, f"peer speaks protocol {msg.major}.{msg.minor}; "
                                                    f"this controller speaks {PROTOCOL_MAJOR}.{PROTOCOL_MINOR}")
        if msg.type == MsgType.HELLO:
            return [self._hello_ack, log, self._state()]
        return [log]

    def _on_clear_fault(self, mask: int, now_s: float) -> list[Message]:
        if not self._linked:
            return [_log(WARNING, LogCode.VERSION_MISMATCH, "CLEAR_FAULT refused: no HELLO from this host"),
                    self._state()]
        self._faults &= ~mask
        if not self._faults:
            self._torque = True
            self._hold()  # hold the measured position until the next COMMAND
        if self._armed:
            self._last_feed_s = now_s
        return [self._state()]

    def _on_torque(self, enable: bool) -> list[Message]:
        if not enable:
            self._torque = False
            self._limp()
            return [self._state()]
        if not self._linked:
            return [_log(WARNING, LogCode.VERSION_MISMATCH, "TORQUE 1 refused: no HELLO from this host"),
                    self._state()]
        if self._faults & _TORQUE_OFF:
            return [_log(WARNING, LogCode.REFUSED_WHILE_FAULTED, "TORQUE 1 refused: TORQUE_OFF latched; CLEAR_FAULT"),
                    self._state()]
        self._torque = True
        self._hold()
        return [self._state()]

    def _on_command(self, seq: int, cmd: Command, now_s: float) -> list[Message]:
        self.commands_received += 1
        self._ack_seq = seq
        self._feed(now_s)
        try:
            mode, target = self._validated(cmd)
        except CommandRefused as why:
            self.commands_rejected += 1
            self._rejected = True
            self.command_log.append(CommandRecord(now_s, seq, cmd, False))
            return [_log(WARNING, why.code, why.text), self._state()]
        vecs = self._vecs
        # Told to hold exactly where it stands still: nothing to integrate (skips numpy on the common hold path).
        holding_here = (self._settled and vecs is not None and not vecs[3] and cmd.mode == Mode.JOINT_POSITION
                        and tuple(cmd.target) == vecs[0])
        self._mode, self._target, self._settled = mode, target, holding_here
        self._expiry_s = now_s + cmd.valid_ms / 1000 if cmd.valid_ms else math.inf
        self._rejected = False
        self.command_log.append(CommandRecord(now_s, seq, cmd, True))
        return [self._state()]

    def _validated(self, cmd: Command) -> tuple[int, np.ndarray]:
        """(internal mode, target array) for an acceptable command; raises CommandRefused naming what is wrong."""
        if not self._linked:
            raise CommandRefused(LogCode.VERSION_MISMATCH, "COMMAND refused: no HELLO of protocol 1 and this schema")
        if self._faults:
            names = "|".join(f.name for f in Fault if self._faults & f)
            raise CommandRefused(LogCode.REFUSED_WHILE_FAULTED, f"COMMAND refused: {names} latched; send CLEAR_FAULT")
        if not self._torque:
            raise CommandRefused(LogCode.REFUSED_WHILE_FAULTED, "COMMAND refused: torque is off; send TORQUE 1")
        mode, n, valid_ms = cmd.mode, len(cmd.target), cmd.valid_ms
        if mode not in self._mode_values:
            offered = ",".join(str(m) for m in sorted(self._mode_values))
            raise CommandRefused(LogCode.BAD_MODE, f"mode {mode} not offered (offered: {offered})")
        if mode == Mode.EE_DELTA:
            if n not in (4, 7):
                raise CommandRefused(LogCode.BAD_LENGTH, f"EE_DELTA takes 4 or 7 values, got {n}")
        elif n != self.n:
            raise CommandRefused(LogCode.BAD_LENGTH, f"{Mode(mode).name} takes {self.n} targets, got {n}")
        if valid_ms == 0 and mode != Mode.JOINT_POSITION:
            raise CommandRefused(LogCode.BAD_MODE, "valid_ms 0 (no expiry) is for JOINT_POSITION only")
        target = cmd.target
        if mode == Mode.EE_DELTA:
            if not all(math.isfinite(x) for x in target):
                raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, f"EE_DELTA {tuple(target)} is not finite")
            return self._ee_delta_target(target)
        # Python loops over the <= 32 values: quicker than numpy at this size. NaN fails every comparison.
        if mode == Mode.JOINT_VELOCITY:
            vmax = self._vel_max_list
            for i, x in enumerate(target):
                if not -vmax[i] <= x <= vmax[i]:
                    raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, self._why(i, "velocity", x, -vmax[i], vmax[i]))
            return _VELOCITY, np.array(target, np.float64)
        return self._position_target(target)

    def _ee_delta_target(self, delta) -> tuple[int, np.ndarray]:
        """A finite EE_DELTA through the kinematics: joint position targets, checked like JOINT_POSITION."""
        try:
            joints = self.kinematics.ee_delta_to_joint_targets(self._pos.copy(), np.array(delta, np.float64))
        except ValueError as exc:
            raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, f"EE_DELTA: {exc}") from None
        if np.shape(joints) != (self.n,):
            raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, f"EE_DELTA gave targets of shape {np.shape(joints)}")
        return self._position_target(np.asarray(joints, np.float64).tolist())

    def _position_target(self, target) -> tuple[int, np.ndarray]:
        lo, hi = self._pos_min_list, self._pos_max_list
        for i, x in enumerate(target):
            if not lo[i] <= x <= hi[i]:
                raise CommandRefused(LogCode.TARGET_OUT_OF_LIMITS, self._why(i, "target", x, lo[i], hi[i]))
        return _POSITION, np.array(target, np.float64)

    def _why(self, i: int, what: str, value: float, lo: float, hi: float) -> str:
        if not math.isfinite(value):
            return f"{self._names[i]} {what} {value} is not finite"
        return f"{self._names[i]} {what} {value:.6g} outside [{lo:.6g}, {hi:.6g}]"

    def _feed(self, now_s: float) -> None:
        """A COMMAND or HEARTBEAT of the linked host: arms the watchdog and restarts its silence window."""
        if self._linked:
            self._armed = True
            self._last_feed_s = now_s

    def _state(self) -> State:
        faults = self._faults
        status = _ENABLED if self._torque else 0
        if self._mode == _HOLD:
            status |= _HOLDING
        vecs = self._vecs
        if vecs is None:
            vel = tuple(self._vel.tolist())
            vecs = self._vecs = (tuple(self._pos.tolist()), vel, tuple(self._eff.tolist()), any(vel))
        if vecs[3]:
            status |= _MOVING
        if faults:
            status |= _FAULTED | (_S_ESTOP if faults & _ESTOP else 0)
        if self._rejected:
            status |= _REJECTED
        if self._linked:
            status |= _LINKED
        return State(self._ack_seq, max(0, round((self._t_s - self._t0_s) * 1e6)), status, faults,
                     vecs[0], vecs[1], vecs[2])

    def _checked_positions(self, positions, what: str) -> np.ndarray:
        pos = np.array(positions, np.float64).reshape(-1) if np.ndim(positions) == 1 else None
        if pos is None or pos.shape != (self.n,):
            raise ValueError(f"{what} must have shape ({self.n},) for joints {self._names}, "
                             f"got shape {np.shape(positions)}")
        for i, name in enumerate(self._names):
            if not self._pos_min[i] <= pos[i] <= self._pos_max[i]:
                raise ValueError(f"{what}: joint {name!r} = {pos[i]!r} is outside "
                                 f"[{self._pos_min[i]:.6g}, {self._pos_max[i]:.6g}]")
        return pos

    # --- time: events and dynamics ------------------------------------------------------------------------

    def _advance(self, now_s: float) -> list[Message]:
        """Integrate to now_s, stopping at each event (expiry, watchdog, torque off) to act on it at its time."""
        out: list[Message] = []
        while True:
            t_event, event = math.inf, None
            if self._mode != _HOLD:
                t_event, event = self._expiry_s, "expiry"
            if self._armed:
                t = self._last_feed_s + self._watchdog_s
                if not self._faults & _WATCHDOG and t < t_event:
                    t_event, event = t, "watchdog"
                t = self._last_feed_s + self._torque_off_s
                if self._torque_off_s > 0 and not self._faults & _TORQUE_OFF and t < t_event:
                    t_event, event = t, "torque_off"
            if event is None or t_event > now_s:
                self._integrate(now_s)
                return out
            self._integrate(t_event)
            if event == "expiry":
                self._hold()  # a velocity command decelerates to zero
            elif event == "watchdog":
                self._faults |= _WATCHDOG
                self._hold()
                out += [_log(ERROR, LogCode.WATCHDOG_TRIPPED,
                             f"no COMMAND/HEARTBEAT for {self.config.watchdog_ms} ms: holding"), self._state()]
            else:
                self._faults |= _TORQUE_OFF
                self._torque = False
                self._limp()
                out += [_log(ERROR, LogCode.TORQUE_OFF,
                             f"no COMMAND/HEARTBEAT for {self.config.torque_off_ms} ms: torque off"), self._state()]

    def _integrate(self, t_end_s: float) -> None:
        span_s = t_end_s - self._t_s
        if not span_s > 0:
            return  # time never runs backwards here
        if self._settled or not self._torque or self._at_rest():
            self._t_s = t_end_s  # standing still: nothing to integrate
            if not self._settled:
                self._settled = True
                self._eff[:] = 0.0
                self._vecs = None
            return
        n_sub = min(MAX_SUBSTEPS, max(1, math.ceil(span_s / SUBSTEP_S - 1e-9)))
        dt = span_s / n_sub
        for _ in range(n_sub):
            self._substep(dt)
            if self._at_rest():
                break  # the rest of the span changes nothing
        self._t_s = t_end_s

    def _at_rest(self) -> bool:
        if self._vel.any():
            return False
        return self._mode == _HOLD or (self._mode == _POSITION and bool((self._pos == self._target).all()))

    def _brake_speed(self, dist: np.ndarray, dt: float) -> np.ndarray:
        """Fastest speed from which the joint stops exactly at `dist` (>= 0) in steps of dt, slowing by at most
        acc_max·dt per step. With v = (k + f)·a·dt the steps cover dt·((k+1)·v − a·dt·k(k+1)/2); k is the number
        of whole deceleration steps that fit in dist, and the last step lands on it (k = 0: v = dist/dt)."""
        a_dt2 = self._acc_max * dt * dt
        u = dist / a_dt2  # distance in units of a·dt²
        k = np.floor((np.sqrt(1.0 + 8.0 * u) - 1.0) / 2.0)
        return a_dt2 / dt * (u + k * (k + 1.0) / 2.0) / (k + 1.0)

    def _substep(self, dt: float) -> None:
        v0 = self._vel
        a_dt = self._acc_max * dt
        if self._mode == _POSITION:
            err = self._target - self._pos
            v_des = np.sign(err) * np.minimum(self._vel_max, self._brake_speed(np.abs(err), dt))
            v = np.minimum(np.maximum(v_des, v0 - a_dt), v0 + a_dt)
            # The step that reaches the target lands on it exactly (no float residue to creep over).
            pos = np.where(v == err / dt, self._target, self._pos + v * dt)
        else:
            if self._mode == _VELOCITY:  # brake in time to stop at the joint limits
                lo = -self._brake_speed(np.maximum(self._pos - self._pos_min, 0.0), dt)
                hi = self._brake_speed(np.maximum(self._pos_max - self._pos, 0.0), dt)
                v_des = np.minimum(np.maximum(self._target, lo), hi)
            else:
                v_des = 0.0
            v = np.minimum(np.maximum(v_des, v0 - a_dt), v0 + a_dt)
            pos = self._pos + v * dt
        over = np.maximum(self._pos_min - pos, pos - self._pos_max)  # > 0: beyond a limit
        if over.max() > 0.0:
            pos = np.minimum(np.maximum(pos, self._pos_min), self._pos_max)
            # A hard stop, reachable only from motion that began outside the braking envelope; float residue
            # of a landing exactly on the limit is not one.
            v = np.where(over > 1e-9, 0.0, v)
        eff = 0.5 * self._effort_max * (v - v0) / a_dt
        self._eff = np.minimum(np.maximum(eff, -self._effort_max), self._effort_max)
        self._pos, self._vel = pos, v
        self._vecs = None

    def _hold(self) -> None:
        """No valid command: decelerate at acc_max, then hold still."""
        self._mode, self._settled = _HOLD, False

    def _limp(self) -> None:
        """Stop dead with zero effort (torque off, or a teleport); then hold."""
        self._vel[:] = 0.0
        self._eff[:] = 0.0
        self._mode, self._settled, self._vecs = _HOLD, False, None


class CartesianKinematics:
    """EE_DELTA for a gantry arm: joints 0, 1, 2 are prismatic x, y, z (m) and the last joint is a gripper opening
    (m). dx dy dz add to the first three joints; gripper −1 (open) … +1 (closed) maps linearly onto the gripper's
    [pos_max, pos_min]. A 7-value delta raises ValueError: a gantry cannot rotate."""

    def __init__(self, config: ArmConfig):
        if len(config.joints) < 4:
            raise ValueError(f"a gantry needs x, y, z and a gripper joint, {config.name!r} has "
                             f"{len(config.joints)} joints")
        grip = config.joints[-1]
        self._open_m, self._closed_m = grip.pos_max, grip.pos_min

    def ee_delta_to_joint_targets(self, positions: np.ndarray, delta: np.ndarray) -> np.ndarray:
        if len(delta) != 4:
            raise ValueError(f"a gantry takes dx dy dz gripper (4 values), got {len(delta)}")
        g = float(delta[3])
        if not -1.0 <= g <= 1.0:
            raise ValueError(f"gripper {g:.6g} outside [-1, 1]")
        out = np.array(positions, np.float64)
        out[:3] += np.asarray(delta[:3], np.float64)
        out[-1] = self._open_m + (self._closed_m - self._open_m) * (g + 1.0) / 2.0
        return out
