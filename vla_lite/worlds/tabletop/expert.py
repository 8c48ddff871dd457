"""The scripted expert: from any joint positions, a chunk of joint position targets that touches the target block.

Plan (a function of the measured positions only, so it labels any state a student visits: DAgger):
1. far from the target (tool more than `clear_m` from its centre in the table plane) and low (lift below
   `safe_lift_m`, where a sweep could brush a block): rise to `travel_lift_m` without moving in the plane;
2. far: move shoulder and elbow to the target's IK solution (on the elbow branch the arm is on), lift going to
   `travel_lift_m` (or staying where it is between `safe_lift_m` and `travel_lift_m`) along the way;
3. descend onto the block (lift = block height), still correcting the plane position.
Each segment is a straight line in joint space, every joint arriving together, followed at a "cruise" speed
profile: from the first step at `speed_fraction` of the slowest joint's vel_max, braking at `speed_fraction` of
acc_max to stop on the waypoint. It does not assume the arm is at rest: a plan that began by accelerating from
zero would, replanned every tick from positions alone, never get up to speed. The arm's own acceleration limit
smooths the start. The gripper opens on its own profile (the touch task never closes it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...firmware_bridge.arm_config import ArmConfig
from .kinematics import ELBOW, GRIPPER, LIFT, SHOULDER, branch_of, forward_kinematics, reachable_solution, scara_arm
from .world import World


@dataclass(frozen=True)
class ExpertConfig:
    travel_lift_m: float = 0.10  # well above touch height: crossing other blocks at this height is harmless
    safe_lift_m: float = 0.075  # below this, moving in the plane could touch a block on the way
    # Within this of the target centre the tool descends along a straight joint-space line while it centres
    # (a funnel: lift falls as the distance does). Wide on purpose: a narrow switch between "rise, move, descend"
    # and "descend" is a discontinuity an imitating policy averages into hovering. Other blocks' footprints are at
    # least 6 cm from the target centre (TableSpec.min_centre_gap_m), so the funnel never crosses one low.
    near_m: float = 0.035
    # Within this of the target centre no other block is near enough to brush (their footprints start >= 6.2 cm
    # away): a low tool moves over at its height instead of rising first.
    clear_m: float = 0.06
    speed_fraction: float = 0.8  # of each joint's vel_max and acc_max
    lead_s: float = 0.05  # targets are sampled this far ahead: the arm's tracker lags a moving target


class ScriptedExpert:
    """`action_chunk(positions, world, T, rate_hz) -> (T, 4)` joint position targets; see the module docstring."""

    def __init__(self, config: ArmConfig | None = None, params: ExpertConfig = ExpertConfig()):
        config = config or scara_arm()
        if len(config.joints) != 4:
            raise ValueError(f"the expert drives shoulder, elbow, lift, gripper; {config.name!r} has joints "
                             f"{config.joint_names}")
        f = params.speed_fraction
        if not 0 < f <= 1:
            raise ValueError(f"speed_fraction must be in (0, 1], got {f!r}")
        self.params = params
        self.low = np.array([j.pos_min for j in config.joints])
        self.high = np.array([j.pos_max for j in config.joints])
        self.vel = f * np.array([j.vel_max for j in config.joints])  # rad/s, m/s
        self.acc = f * np.array([j.acc_max for j in config.joints])

    def waypoints(self, positions, world: World) -> list[np.ndarray]:
        """The (3,) shoulder/elbow/lift waypoints still to visit from `positions`, in order (the last touches)."""
        q = np.asarray(positions, np.float64)
        if q.shape != (4,) or not np.all(np.isfinite(q)):
            raise ValueError(f"positions must be 4 finite values (shoulder, elbow, lift, gripper), got {positions!r}")
        spec, p = world.spec, self.params
        target = world.target_block
        goal = reachable_solution(target.x_m, target.y_m, branch_of(q[ELBOW]), spec.geometry)
        x, y = forward_kinematics(q[SHOULDER], q[ELBOW], spec.geometry)
        lift = q[LIFT]
        touch = np.array([goal[0], goal[1], spec.block_height_m])
        dist = math.hypot(x - target.x_m, y - target.y_m)
        if dist <= p.near_m:
            return [touch]
        if lift < p.safe_lift_m and dist > p.clear_m:
            return [np.array([q[SHOULDER], q[ELBOW], p.travel_lift_m]),
                    np.array([goal[0], goal[1], p.travel_lift_m]), touch]
        return [np.array([goal[0], goal[1], min(lift, p.travel_lift_m)]), touch]

    def action_chunk(self, positions, world: World, T: int, rate_hz: float) -> np.ndarray:
        """(T, 4) joint position targets for the next T ticks at rate_hz; row 0 is the one to send now."""
        if not isinstance(T, (int, np.integer)) or T < 1:
            raise ValueError(f"chunk length T must be an integer >= 1, got {T!r}")
        if not 0 < rate_hz <= 1000:
            raise ValueError(f"rate_hz must be in (0, 1000] Hz, got {rate_hz!r}")
        q = np.asarray(positions, np.float64)
        wps = self.waypoints(q, world)
        t = (np.arange(T) + 1.0) / rate_hz + self.params.lead_s  # (T,) s from now
        out = np.empty((T, 4))
        start, t0 = q[:3], 0.0
        out[:, :3] = wps[-1]
        for end in wps:
            delta = end - start
            length_s, dur_s, covered = _segment(delta, self.vel[:3], self.acc[:3])
            if length_s > 0:
                inside = (t >= t0) & (t < t0 + dur_s)
                frac = covered(t[inside] - t0) / length_s
                out[inside, :3] = start + frac[:, None] * delta
            start, t0 = end, t0 + dur_s
        open_m = self.high[GRIPPER]
        g_len, _, g_cov = _segment(np.array([open_m - q[GRIPPER]]), self.vel[3:], self.acc[3:])
        out[:, GRIPPER] = q[GRIPPER] + (open_m - q[GRIPPER]) * (g_cov(t) / g_len if g_len > 0 else 1.0)
        return np.clip(out, self.low, self.high)


def _segment(delta: np.ndarray, vel: np.ndarray, acc: np.ndarray):
    """A joint-space line of `delta` as a progress variable measured in seconds at full speed: (length_s,
    duration_s, covered(t) -> progress). Progress speed 1 moves the slowest joint at its vel; its acceleration
    bound is the tightest joint's."""
    mag = np.abs(delta)
    length = float(np.max(mag / vel)) if mag.size else 0.0
    if length <= 1e-12:
        return 0.0, 0.0, lambda t: np.full(np.shape(t), 0.0)
    moving = mag > 0
    a = float(np.min(acc[moving] * length / mag[moving]))  # progress units per s²
    v0 = min(1.0, math.sqrt(2 * a * length))  # cruise speed, or braking from the start on a short line
    cruise_end = length - v0 * v0 / (2 * a)  # progress where braking starts (0 on a short line)
    t_cruise = cruise_end / v0
    duration = t_cruise + v0 / a

    def covered(t):
        t = np.asarray(t, np.float64)
        tb = np.clip(t - t_cruise, 0.0, v0 / a)  # time spent braking
        return np.where(t < t_cruise, v0 * t, np.minimum(length, cruise_end + v0 * tb - a * tb * tb / 2))

    return length, duration, covered
