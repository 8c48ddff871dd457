"""The simulated SCARA arm: its joints as an ArmConfig, and forward/inverse kinematics as pure functions.

Frame (metres, seen from above): the base sits at the origin on the table's near edge, x to the right, y forward
over the table, z up. Joint order: shoulder (rad), elbow (rad), lift (m), gripper (m).
- shoulder: heading of link 1 measured from +y, positive counter-clockwise seen from above (towards -x);
- elbow: angle of link 2 relative to link 1, same sign convention;
- lift: height of the tool tip above the table (0 = touching the table);
- gripper: finger opening (0 = closed).

Inverse kinematics has two solutions for a point strictly inside the reach annulus: `elbow=+1` takes the one
with a positive elbow angle (the elbow bends counter-clockwise, i.e. lies to the right of the base->tool line seen
from above), `elbow=-1` the mirror one. The expert and EE_DELTA keep the branch the arm is already on, so a
small Cartesian move never flips the elbow through the straight-arm singularity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ...firmware_bridge.arm_config import TABLETOP_JOINTS, TABLETOP_NAME, ArmConfig
from ...firmware_bridge.protocol import JointInfo, Mode

JOINT_NAMES = ("shoulder", "elbow", "lift", "gripper")
SHOULDER, ELBOW, LIFT, GRIPPER = range(4)


@dataclass(frozen=True)
class ScaraGeometry:
    link1_m: float = 0.25
    link2_m: float = 0.20
    shoulder_max_rad: float = 2.6  # limits are symmetric: [-max, +max]
    elbow_max_rad: float = 2.6
    lift_max_m: float = 0.12
    gripper_max_m: float = 0.04

    @property
    def low(self) -> np.ndarray:
        """(4,) joint position lower limits, rad/m."""
        return np.array([-self.shoulder_max_rad, -self.elbow_max_rad, 0.0, 0.0])

    @property
    def high(self) -> np.ndarray:
        """(4,) joint position upper limits, rad/m."""
        return np.array([self.shoulder_max_rad, self.elbow_max_rad, self.lift_max_m, self.gripper_max_m])

    @property
    def reach_m(self) -> tuple[float, float]:
        """(min, max) distance of the tool from the base axis the elbow limits allow."""
        c = math.cos(self.elbow_max_rad)
        inner = math.sqrt(self.link1_m ** 2 + self.link2_m ** 2 + 2 * self.link1_m * self.link2_m * c)
        return inner, self.link1_m + self.link2_m


GEOMETRY = ScaraGeometry()


def scara_arm(geometry: ScaraGeometry = GEOMETRY, *, watchdog_ms: int = 100, torque_off_ms: int = 2000) -> ArmConfig:
    """The controller's announcement for the simulated SCARA. Speeds are chosen so the expert reaches any block
    of the layout from the home pose in about 1.5-2.5 s (shoulder 2.5 rad at 2.5 rad/s takes ~1.3 s, then a
    0.06 m descent ~0.5 s)."""
    low, high = geometry.low, geometry.high
    joints = tuple(JointInfo(name, unit, float(lo), float(hi), vel, acc, effort)
                   for (name, unit, _, _, vel, acc, effort), lo, hi in zip(TABLETOP_JOINTS, low, high))
    return ArmConfig(TABLETOP_NAME, joints, (Mode.JOINT_POSITION, Mode.JOINT_VELOCITY, Mode.EE_DELTA),
                     watchdog_ms=watchdog_ms, torque_off_ms=torque_off_ms)


def forward_kinematics(shoulder_rad, elbow_rad, geometry: ScaraGeometry = GEOMETRY) -> tuple:
    """Tool (x, y) in metres; numpy arrays broadcast."""
    a1, a12 = shoulder_rad, np.add(shoulder_rad, elbow_rad)
    x = -geometry.link1_m * np.sin(a1) - geometry.link2_m * np.sin(a12)
    y = geometry.link1_m * np.cos(a1) + geometry.link2_m * np.cos(a12)
    return x, y


def elbow_point(shoulder_rad: float, geometry: ScaraGeometry = GEOMETRY) -> tuple[float, float]:
    """(x, y) of the elbow joint, m."""
    return -geometry.link1_m * math.sin(shoulder_rad), geometry.link1_m * math.cos(shoulder_rad)


def inverse_kinematics(x_m: float, y_m: float, elbow: int = +1,
                       geometry: ScaraGeometry = GEOMETRY) -> tuple[float, float]:
    """(shoulder, elbow) in rad putting the tool at (x_m, y_m), on the branch `elbow` (+1/-1, module docstring).
    Shoulder is wrapped to (-pi, pi]. Raises ValueError when the point is outside the links' annulus; the joint
    limits are not checked here (see `within_limits`)."""
    if elbow not in (1, -1):
        raise ValueError(f"elbow must be +1 or -1, got {elbow!r}")
    l1, l2 = geometry.link1_m, geometry.link2_m
    r2 = x_m * x_m + y_m * y_m
    c2 = (r2 - l1 * l1 - l2 * l2) / (2 * l1 * l2)
    if not -1.0 - 1e-12 <= c2 <= 1.0 + 1e-12:  # NaN fails too
        raise ValueError(f"point ({x_m:.4g}, {y_m:.4g}) m is {math.sqrt(r2):.4g} m from the "
                         f"base; the arm reaches {abs(l1 - l2):.4g}..{l1 + l2:.4g} m")
    q2 = elbow * math.acos(min(1.0, max(-1.0, c2)))
    heading = math.atan2(-x_m, y_m)  # angle of the base->tool line from +y, counter-clockwise
    q1 = heading - math.atan2(l2 * math.sin(q2), l1 + l2 * math.cos(q2))
    q1 = math.atan2(math.sin(q1), math.cos(q1))
    return q1, q2


def within_limits(positions, geometry: ScaraGeometry = GEOMETRY) -> bool:
    p = np.asarray(positions, np.float64)
    return bool(np.all(p >= geometry.low[:len(p)]) and np.all(p <= geometry.high[:len(p)]))


def reachable_solution(x_m: float, y_m: float, prefer_elbow: int = +1,
                       geometry: ScaraGeometry = GEOMETRY) -> tuple[float, float]:
    """IK on the preferred branch if its joints are within limits, else on the other; ValueError if neither."""
    reasons = []
    for branch in (prefer_elbow, -prefer_elbow):
        q = inverse_kinematics(x_m, y_m, branch, geometry)  # ValueError: outside the annulus
        if within_limits(q, geometry):
            return q
        reasons.append(f"elbow {branch:+d}: shoulder {q[0]:.3f}, elbow {q[1]:.3f} rad")
    raise ValueError(f"point ({x_m:.4g}, {y_m:.4g}) m needs joints outside the limits "
                     f"(±{geometry.shoulder_max_rad}, ±{geometry.elbow_max_rad} rad): {'; '.join(reasons)}")


def branch_of(elbow_rad: float) -> int:
    """The IK branch an elbow angle is on (a straight arm counts as +1)."""
    return -1 if elbow_rad < 0 else 1


class ScaraKinematics:
    """EE_DELTA for the SCARA (the VirtualArm's kinematics hook): dx dy dz gripper, m and -1 open ... +1 closed.
    dx dy move the tool in the table plane on the elbow branch the arm is on (or the other when only that one is
    within limits), dz adds to lift. A 7-value delta raises ValueError: the tool cannot tilt."""

    def __init__(self, geometry: ScaraGeometry = GEOMETRY):
        self.geometry = geometry

    def ee_delta_to_joint_targets(self, positions: np.ndarray, delta: np.ndarray) -> np.ndarray:
        if len(delta) != 4:
            raise ValueError(f"the SCARA takes dx dy dz gripper (4 values), got {len(delta)}")
        g = float(delta[3])
        if not -1.0 <= g <= 1.0:
            raise ValueError(f"gripper {g:.6g} outside [-1, 1]")
        q = np.asarray(positions, np.float64)
        x, y = forward_kinematics(q[SHOULDER], q[ELBOW], self.geometry)
        shoulder, elbow = reachable_solution(float(x + delta[0]), float(y + delta[1]), branch_of(q[ELBOW]),
                                             self.geometry)
        out = q.copy()
        out[SHOULDER], out[ELBOW] = shoulder, elbow
        out[LIFT] = q[LIFT] + float(delta[2])
        out[GRIPPER] = self.geometry.gripper_max_m * (1.0 - g) / 2.0  # -1 -> fully open
        return out
