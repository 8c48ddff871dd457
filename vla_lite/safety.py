"""The safety filter: what the arm is actually sent, given what the policy asked for.

Pure numpy: no I/O, no clock (the tick period is given). Commands are in robot units, in the manifest's action
order. What a command is depends on the bundle's action mode (docs/BUNDLE.md):
  joint_position  joint positions (rad, m)
  joint_velocity  joint velocities (rad/s, m/s)
  ee_delta        a per-tick end-effector displacement (m, rad) then an absolute gripper command in [-1, 1]
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


DEFAULT_RAMP_S = 0.3  # `vla-lite run --ramp-s`: the first commands leave the measured pose over this long


class ActionMode(str, enum.Enum):
    JOINT_POSITION = "joint_position"
    JOINT_VELOCITY = "joint_velocity"
    EE_DELTA = "ee_delta"


def clamp_to_limits(target, low, high) -> np.ndarray:
    """Clip each dimension into [low, high]. Returns the command actually sent."""
    return np.minimum(np.maximum(np.asarray(target, np.float64), low), high)


def limit_step(target, previous, max_step) -> np.ndarray:
    """Move from `previous` toward `target` by at most ±max_step per dimension. Returns the command actually sent."""
    previous = np.asarray(previous, np.float64)
    return previous + np.clip(np.asarray(target, np.float64) - previous, -np.asarray(max_step), max_step)


def brake_speed(dist, acc_max, period_s: float) -> np.ndarray:
    """Fastest speed from which a command slowing by at most acc_max·period_s per tick stops within `dist` (>= 0).
    With v = (k + f)·a·dt the ticks cover dt·((k+1)·v − a·dt·k(k+1)/2); k whole deceleration ticks fit in dist and
    the last tick lands on it (k = 0: v = dist / dt). Same profile as the virtual arm's tracker."""
    a_dt2 = np.asarray(acc_max, np.float64) * period_s * period_s
    u = np.asarray(dist, np.float64) / a_dt2  # distance in units of a·dt²
    with np.errstate(invalid="ignore"):  # an infinite distance (no limit) gives an infinite speed
        k = np.floor((np.sqrt(1.0 + 8.0 * u) - 1.0) / 2.0)
        return np.where(np.isinf(u), np.inf, a_dt2 / period_s * (u + k * (k + 1.0) / 2.0) / (k + 1.0))


def limit_velocity_acceleration(target, previous, previous_velocity, period_s: float, vel_max, acc_max,
                                low=None, high=None, brake_on_target: bool = True) -> np.ndarray:
    """Next command from `previous` toward `target` whose implied velocity (command − previous) / period_s stays
    within ±vel_max and differs from previous_velocity by at most acc_max·period_s. With brake_on_target it brakes
    in time to stop on the target instead of overshooting it; without, it heads for the target at up to the speed
    that reaches it this tick (a policy's targets move on every tick: braking to stop on each one makes the
    command creep, and the controller already brakes onto its target). Given low/high (a command that starts
    inside stays inside) it always brakes in time to stop at those limits; from outside it only moves inward.
    Returns the command actually sent."""
    if not period_s > 0:
        raise ValueError(f"period_s must be > 0 s, got {period_s!r}")
    previous, v0 = np.asarray(previous, np.float64), np.asarray(previous_velocity, np.float64)
    err = np.asarray(target, np.float64) - previous
    # One brake_speed call for the three distances: to the target, to high, to low (inf: no limit).
    far = np.full_like(err, np.inf)
    dist = np.stack([np.abs(err), far if high is None else np.maximum(high - previous, 0.0),
                     far if low is None else np.maximum(previous - low, 0.0)])
    brake = brake_speed(dist, acc_max, period_s)
    reach = brake[0] if brake_on_target else np.abs(err) / period_s
    v = np.maximum(np.minimum(np.sign(err) * np.minimum(vel_max, reach), brake[1]), -brake[2])
    a_dt = np.asarray(acc_max, np.float64) * period_s
    v = np.minimum(np.maximum(v, v0 - a_dt), v0 + a_dt)
    # The tick that reaches the target lands on it exactly (no float residue to creep over).
    lands = np.abs(v * period_s - err) <= 1e-12 * (1.0 + np.abs(err))
    command = np.where(lands, previous + err, previous + v * period_s)
    if low is not None and high is not None:
        command = np.clip(command, np.minimum(low, previous), np.maximum(high, previous))
    return command


def _seconds(value, what: str, low: float, open_low: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or \
            value < low or (open_low and value == low):
        raise ValueError(f"{what} must be a finite number {'>' if open_low else '>='} {low:g} s, got {value!r}")
    return float(value)


def _vector(value, n: int, what: str, names) -> np.ndarray:
    a = np.array(np.broadcast_to(np.asarray(value, np.float64), (n,)) if np.ndim(value) == 0 else value, np.float64)
    if a.shape != (n,):
        raise ValueError(f"{what} must hold {n} values (one per action dimension {list(names)}), got shape {a.shape}")
    if np.isnan(a).any():
        raise ValueError(f"{what} is NaN for {[names[i] for i in np.flatnonzero(np.isnan(a))]}: {a.tolist()}")
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class SafetyLimits:
    """Per-dimension limits, in the manifest's action order and the command's units (see the module docstring)."""
    mode: ActionMode
    names: tuple[str, ...]
    low: np.ndarray  # (D,) command range: positions, velocities or per-tick deltas
    high: np.ndarray
    max_step: np.ndarray  # (D,) largest change of the command per tick (inf: none)
    vel_max: np.ndarray  # (D,) joint speed, rad/s or m/s (joint_position); inf in ee_delta
    acc_max: np.ndarray  # (D,) joint acceleration, rad/s² or m/s²; inf in ee_delta
    pos_low: np.ndarray | None = None  # joint_velocity: the joints' position limits, braked for
    pos_high: np.ndarray | None = None
    gripper: int | None = None  # ee_delta: index of the absolute gripper command

    def __post_init__(self):
        try:
            object.__setattr__(self, "mode", ActionMode(self.mode))
        except ValueError:
            raise ValueError(f"mode is {self.mode!r}; expected one of {[m.value for m in ActionMode]}") from None
        names = tuple(self.names)
        if not names:
            raise ValueError("SafetyLimits needs at least one action dimension, got no names")
        object.__setattr__(self, "names", names)
        for what in ("low", "high", "max_step", "vel_max", "acc_max", "pos_low", "pos_high"):
            if getattr(self, what) is not None:
                object.__setattr__(self, what, _vector(getattr(self, what), len(names), what, names))
        for what in ("low", "high") + (("vel_max", "acc_max") if self.mode is not ActionMode.EE_DELTA else ()):
            if not np.isfinite(getattr(self, what)).all():
                raise ValueError(f"{what} must be finite; got {getattr(self, what).tolist()} for {list(names)}")
        for i, name in enumerate(names):
            if self.low[i] > self.high[i]:
                raise ValueError(f"{name!r}: low {self.low[i]:.6g} > high {self.high[i]:.6g}, an empty range")
        for what in ("max_step", "vel_max", "acc_max"):
            if (getattr(self, what) <= 0).any():
                raise ValueError(f"{what} must be > 0 (inf: no limit); got {getattr(self, what).tolist()}")
        if self.mode is ActionMode.JOINT_VELOCITY and (self.pos_low is None or self.pos_high is None):
            raise ValueError("joint_velocity limits need pos_low and pos_high (the joints' position limits)")
        if self.mode is ActionMode.EE_DELTA and self.gripper not in range(len(names)):
            raise ValueError(f"ee_delta limits need the gripper's index in 0..{len(names) - 1}, got {self.gripper!r}")

    @classmethod
    def from_bundle_and_arm(cls, manifest, arm_config, period_s: float, *, max_step=None,
                            speed_scale: float = 1.0, acc_margin: float = 2.0) -> "SafetyLimits":
        """The bundle's action low/high intersected with the controller's joints (HELLO_ACK). joint_position: the
        joints' position range, max_step = vel_max·period_s; joint_velocity: ±vel_max, max_step = acc_max·period_s;
        ee_delta: the bundle's per-tick delta bounds, gripper within [-1, 1]. `max_step` (scalar or per dimension)
        only tightens; `speed_scale` in (0, 1] scales the joints' vel_max and acc_max (for first runs).
        `acc_margin` (>= 1): the command sequence may change its velocity up to this multiple of acc_max per
        second. The controller's own tracking stays within acc_max; a bound of exactly acc_max made every
        command lag the controller's trajectory (tabletop student: 17 -> 7 of 20 episodes), while 2x still
        refuses violent changes (a policy output jumping across the workspace is spread over many ticks)."""
        a, _ = manifest.action, _seconds(period_s, "period_s", 0.0, open_low=True)
        if not 0 < speed_scale <= 1:
            raise ValueError(f"speed_scale must be in (0, 1], got {speed_scale!r}")
        if not 1 <= acc_margin < math.inf:
            raise ValueError(f"acc_margin must be a finite number >= 1, got {acc_margin!r}")
        mode, names, n = ActionMode(a.mode), tuple(a.names), len(a.names)
        low, high = np.array(a.low, np.float64), np.array(a.high, np.float64)
        user_step = np.inf if max_step is None else _vector(max_step, n, "max_step", names)
        if mode is ActionMode.EE_DELTA:
            if n not in (4, 7):
                raise ValueError(f"ee_delta has {n} action dimensions; expected 4 (dx dy dz gripper) or 7")
            low[-1], high[-1] = max(low[-1], -1.0), min(high[-1], 1.0)
            inf = np.full(n, np.inf)
            return cls(mode, names, low, high, np.minimum(inf, user_step), inf, inf, gripper=n - 1)
        joints = {j.name: j for j in arm_config.joints}
        missing = [x for x in names if x not in joints]
        if missing:
            raise ValueError(f"action dimensions {missing} are not joints of controller {arm_config.name!r} "
                             f"(it has {list(joints)})")
        js = [joints[x] for x in names]
        for j in js:
            if not (math.isfinite(j.pos_min) and math.isfinite(j.pos_max) and j.pos_min <= j.pos_max
                    and 0 < j.vel_max < math.inf and 0 < j.acc_max < math.inf):
                raise ValueError(f"controller joint {j.name!r} has unusable limits: pos [{j.pos_min}, {j.pos_max}], "
                                 f"vel_max {j.vel_max}, acc_max {j.acc_max}; expected finite, min <= max, > 0")
        pos_min, pos_max = np.array([j.pos_min for j in js]), np.array([j.pos_max for j in js])
        vel = speed_scale * np.array([j.vel_max for j in js])
        margin = acc_margin if mode is ActionMode.JOINT_POSITION else 1.0  # a velocity command is the motion itself
        acc = speed_scale * margin * np.array([j.acc_max for j in js])
        if mode is ActionMode.JOINT_POSITION:
            lo, hi, step, extra = np.maximum(low, pos_min), np.minimum(high, pos_max), vel * period_s, {}
            side = [f"[{pos_min[i]:.6g}, {pos_max[i]:.6g}]" for i in range(n)]
        else:
            lo, hi, step = np.maximum(low, -vel), np.minimum(high, vel), acc * period_s
            extra = {"pos_low": pos_min, "pos_high": pos_max}
            side = [f"±{vel[i]:.6g} (vel_max)" for i in range(n)]
        for i in np.flatnonzero(lo > hi):
            raise ValueError(f"{names[i]!r}: bundle range [{low[i]:.6g}, {high[i]:.6g}] and controller range "
                             f"{side[i]} do not overlap")
        return cls(mode, names, lo, hi, np.minimum(step, user_step), vel, acc, **extra)


# What each clamp kind in `clamp_counts` means, for the run report (a kind is counted per joint per tick).
CLAMP_MEANINGS = {
    "range": "target outside the limits the arm and the bundle allow, cut to the limit",
    "step": "target further than the per-tick step limit, spread over more ticks",
    "ramp": "slowed by the ramp-in after a start (expected during the first --ramp-s)",
    "velocity": "target would move faster than the joint's velocity limit",
    "acceleration": "change of speed limited by the acceleration limit (or braking toward the target)",
    "braking": "slowed so the joint can stop before its position limit",
}
EXPECTED_CLAMPS = frozenset({"ramp"})  # clamps that are part of normal operation at any rate
CONTRACT_CLAMP_SHARE = 0.2  # a joint clamped on more ticks than this share suggests a contract problem


@dataclass(frozen=True)
class SafetyResult:
    command: np.ndarray | None  # (D,) what to send, robot units; None: nothing safe is known (send nothing)
    held: bool  # the policy's target was not used
    fault: str | None  # why the target was refused (non-finite values), else None
    clamped: dict[str, tuple[str, ...]] = field(default_factory=dict)  # limit kind -> dimensions it changed
    reason: str | None = None  # hold reason given by the caller or the fault


class SafetyFilter:
    """Stateful filter for one episode: start(measured), then filter()/hold() once per tick.

    Rate limits apply relative to the last SENT command. The ramp-in multiplies the per-tick step limit by
    min(1, k·period_s / ramp_s) on the k-th filtered tick after start() (joint_position: the step, joint_velocity:
    the velocity change, ee_delta: the motion delta), so the first commands leave the measured pose gently.
    `clamp_counts` counts (kind, dimension) clamps for the run report."""

    def __init__(self, limits: SafetyLimits, period_s: float, ramp_s: float = 1.0):
        self.limits = limits
        self.period_s, self.ramp_s = _seconds(period_s, "period_s", 0.0, True), _seconds(ramp_s, "ramp_s", 0.0)
        self.mode, self.dim = limits.mode, len(limits.names)
        self.clamp_counts: Counter = Counter()
        self._started = False
        self._last: np.ndarray | None = None  # last command sent (joint_velocity: also the current velocity)
        self._velocity = np.zeros(self.dim)  # joint_position: implied velocity of the last command, unit/s
        self._measured: np.ndarray | None = None
        self._ticks = 0  # filtered ticks since start(), for the ramp

    @property
    def ramp_fraction(self) -> float:
        """Fraction of the step limit the next filtered tick may use."""
        return 1.0 if self.ramp_s == 0 else min(1.0, (self._ticks + 1) * self.period_s / self.ramp_s)

    def start(self, measured) -> None:
        """Begin an episode from the arm's measured position ((D,) joint positions; ee_delta: any, or None)."""
        m = None if measured is None else np.asarray(measured, np.float64)
        if self.mode is not ActionMode.EE_DELTA and (m is None or m.shape != (self.dim,)):
            raise ValueError(f"start() needs the measured position of {list(self.limits.names)}, got "
                             f"{None if m is None else m.shape}")
        if m is not None and not np.isfinite(m).all():
            raise ValueError(f"start() measured position is not finite: {m.tolist()}")
        self._started, self._ticks, self._measured = True, 0, m
        self._velocity = np.zeros(self.dim)
        self._last = m.copy() if self.mode is ActionMode.JOINT_POSITION else \
            np.zeros(self.dim) if self.mode is ActionMode.JOINT_VELOCITY else None

    def forget(self) -> None:
        """The arm moved without us (a new episode's teleport, a hand guide): the last command and measured
        position no longer describe it, so hold() has nothing to send (joint_velocity: zero) until start()."""
        self._started, self._ticks = False, 0
        self._last = np.zeros(self.dim) if self.mode is ActionMode.JOINT_VELOCITY else None
        self._measured = None
        self._velocity = np.zeros(self.dim)

    def hold(self, reason: str, measured=None, fault: str | None = None) -> SafetyResult:
        """The last safe command. joint_position: the last sent target, else the measured position (given here or
        at start()); joint_velocity: the last velocity brought toward zero within acc_max; ee_delta: zero motion,
        gripper unchanged. None when nothing is known (before anything was sent and no measured position)."""
        m = None if measured is None else np.asarray(measured, np.float64)
        if m is not None and (m.shape != (self.dim,) or not np.isfinite(m).all()):
            m = None  # a hold never trusts a bad measurement
        lim, command = self.limits, None
        if self.mode is ActionMode.JOINT_POSITION:
            command = self._last if self._last is not None else m if m is not None else self._measured
        elif self.mode is ActionMode.JOINT_VELOCITY:
            command = limit_step(np.zeros(self.dim), self._last if self._last is not None else 0.0, lim.max_step)
        elif self._last is not None:
            command = np.zeros(self.dim)
            command[lim.gripper] = self._last[lim.gripper]
        self._velocity = np.zeros(self.dim)
        if command is not None:
            self._last = np.array(command, np.float64)
        return SafetyResult(None if command is None else self._last.copy(), True, fault, {}, fault or reason)

    def filter(self, target, measured) -> SafetyResult:
        """The command to send for the policy's `target` ((D,) robot units) given the `measured` joint positions."""
        if not self._started:
            raise RuntimeError("SafetyFilter.filter() before start(measured)")
        t = np.asarray(target, np.float64)
        if t.shape != (self.dim,):
            raise ValueError(f"target must have shape ({self.dim},) for {list(self.limits.names)}, got {t.shape}")
        m = None if measured is None else np.asarray(measured, np.float64)
        if not np.isfinite(t).all():
            bad = [self.limits.names[i] for i in np.flatnonzero(~np.isfinite(t))]
            return self.hold("fault", fault=f"non-finite target for {bad}")
        if m is not None and not np.isfinite(m).all():
            return self.hold("fault", fault="non-finite measured position")
        if self.mode is not ActionMode.EE_DELTA:
            if m is None or m.shape != (self.dim,):
                raise ValueError(f"measured must have shape ({self.dim},), got {None if m is None else m.shape}")
            self._measured = m
        command, clamped = getattr(self, f"_{self.mode.value}")(t, m, self.ramp_fraction)
        self._ticks += 1
        self._last = command
        for kind, names in clamped.items():
            self.clamp_counts.update(f"{kind} {n}" for n in names)
        return SafetyResult(command.copy(), False, None, clamped)

    # --- one tick per mode: (target, measured, ramp fraction) -> (command, clamped) --------------------------

    def _joint_position(self, t, m, frac):
        lim, dt, prev = self.limits, self.period_s, self._last
        inside = clamp_to_limits(t, lim.low, lim.high)
        cap = np.minimum(lim.vel_max, lim.max_step * frac / dt)  # unit/s: speed limit, step limit, ramp
        cmd = limit_velocity_acceleration(inside, prev, self._velocity, dt, cap, lim.acc_max, lim.low, lim.high,
                                          brake_on_target=False)
        self._velocity = (cmd - prev) / dt
        moved = np.abs(cmd - inside) > 1e-12
        if not moved.any():
            return cmd, self._report(("range", inside != t))
        at_cap = moved & (np.abs(cmd - prev) >= cap * dt * (1 - 1e-9))  # else acceleration (or braking) bound
        by_step = lim.max_step * frac < lim.vel_max * dt
        return cmd, self._report(("range", inside != t), ("ramp" if frac < 1 else "step", at_cap & by_step),
                                 ("velocity", at_cap & ~by_step), ("acceleration", moved & ~at_cap))

    def _joint_velocity(self, t, m, frac):
        lim, dt = self.limits, self.period_s
        hi = np.minimum(lim.high, brake_speed(np.maximum(lim.pos_high - m, 0.0), lim.acc_max, dt))
        lo = np.maximum(lim.low, -brake_speed(np.maximum(m - lim.pos_low, 0.0), lim.acc_max, dt))
        inside = clamp_to_limits(t, lim.low, lim.high)
        braked = np.minimum(np.maximum(inside, lo), hi)
        cmd = limit_step(braked, self._last, lim.max_step * frac)
        return cmd, self._report(("range", inside != t), ("braking", braked != inside),
                                 ("ramp" if frac < 1 else "acceleration", cmd != braked))

    def _ee_delta(self, t, m, frac):
        lim, g = self.limits, self.limits.gripper
        scale = np.full(self.dim, frac)
        scale[g] = 1.0  # the gripper command is absolute, not a motion: not ramped
        inside = clamp_to_limits(t, lim.low * scale, lim.high * scale)
        prev = self._last if self._last is not None else np.where(np.arange(self.dim) == g, inside, 0.0)
        # prev + (inside - prev) can round past the bound (0.01 -> 0.010000000000000002): keep it inside
        cmd = clamp_to_limits(limit_step(inside, prev, lim.max_step), lim.low * scale, lim.high * scale)
        ranged = inside != clamp_to_limits(t, lim.low, lim.high)
        return cmd, self._report(("range", (inside != t) & ~ranged), ("ramp", ranged), ("step", cmd != inside))

    def _report(self, *kinds) -> dict[str, tuple[str, ...]]:
        return {k: tuple(self.limits.names[i] for i in np.flatnonzero(mask)) for k, mask in kinds if mask.any()}
