"""The SO-101 world as the plant of a virtual STS3215 bus (firmware_bridge/servo/plant.py): the world's joint goals
come only from the servos' Goal_Position registers, and what the servos report comes from the world's joints.

Encoders: an STS3215 counts 4096 per turn. Each servo horn sits on its spline at some angle, so the shaft's own
count at a joint's zero (`MOUNT_COUNTS`, before any homing offset) differs per joint, as on an assembled arm:
    shaft_counts = MOUNT_COUNTS[j] + joint_rad * 4096 / (2 pi)
The servos come out of this module already calibrated (`servo_registers`): Homing_Offset = MOUNT - 2047, so a
joint at its zero reads Present_Position 2047 (LeRobot's middle pose), and Min/Max_Position_Limit the calibrated
range. `world_calibration` is the ArmCalibration those registers make (the JSON `vla-lite calibrate` writes):
joint units through it match the world's joints to within one count.

Time: the bus never steps the world (`advance` only lets the servos read it), so a reply never waits for
physics. Its rig does, with `step_to(now_s)`: one world step (one 30 Hz period) for each period boundary passed
since `rebase`, with the goals commanded so far -- called by a lockstep driver's step_now(), or in real time by
the rig's stepping thread. At most MAX_CATCH_UP_STEPS run per call: a world left behind for longer skips the rest
(counted in `skipped_steps`).
"""

from __future__ import annotations

import math
import time
from collections import deque

import numpy as np

from ...calib.arm_calibration import ArmCalibration
from ...calib.joints import JointCalibration, Mapping
from ...calib.json_files import utc_now_iso
from ...firmware_bridge.servo.plant import ShaftState
from .model import GRIPPER, JOINT_NAMES, SERVO_IDS, joint_rad_to_targets

COUNTS_PER_TURN = 4096
MID_COUNT = 2047  # where a joint's zero reads after homing (LeRobot: int(4095 / 2))
COUNTS_PER_RAD = COUNTS_PER_TURN / (2 * math.pi)
MOUNT_COUNTS = (2230, 1874, 2161, 1958, 2103, 1815)  # shaft counts at each joint's zero (horns as assembled)
FULL_TURN = ("wrist_roll",)  # no end stops: calibrated over the whole turn, as LeRobot records it
MAX_CATCH_UP_STEPS = 30  # world steps one advance() may run (1 s at 30 Hz)
STEP_TIMES_KEPT = 100_000  # the last world steps' durations kept for reports (~1 h at 30 Hz)
PERMILLE = 1000


class WorldPlant:
    """Plant over an SO101World; servo key = SERVO_IDS[j] for joint j."""

    def __init__(self, world, now_s: float = 0.0):
        self.world = world
        self._index = {servo_id: j for j, servo_id in enumerate(SERVO_IDS)}
        self.goal_rad = world.present_joint_rad()
        self.skipped_steps = 0
        self.step_times_s: deque[float] = deque(maxlen=STEP_TIMES_KEPT)  # perf_counter s each world step took
        self.rebase(now_s)

    def rebase(self, now_s: float) -> None:
        """Count periods from now_s (a new episode); goals become the joints' present angles."""
        self.t0_s, self.periods = float(now_s), 0
        self.goal_rad = self.world.present_joint_rad()

    def advance(self, now_s: float) -> None:
        """Nothing: the rig steps the world (step_to); the servos read it as it is."""

    def step_to(self, now_s: float) -> None:
        """One world step per 30 Hz period boundary passed since rebase(), with the goals commanded so far."""
        due = math.floor((now_s - self.t0_s) / self.world.period_s + 1e-6)
        n = due - self.periods
        if n <= 0 or self.world.episode is None:
            return
        if n > MAX_CATCH_UP_STEPS:
            self.skipped_steps += n - MAX_CATCH_UP_STEPS
            n = MAX_CATCH_UP_STEPS
        targets = joint_rad_to_targets(self.goal_rad)
        for _ in range(n):
            t = time.perf_counter()
            self.world.step(targets)
            self.step_times_s.append(time.perf_counter() - t)
        self.periods = due

    def command(self, key: int, goal_counts: float, torque_on: bool, speed_counts_s: float) -> None:
        """The servo's goal, in shaft counts; its speed limit is the world's STS3215 profile (ServoSpec), not
        Goal_Velocity."""
        j = self._joint(key)
        self.goal_rad[j] = (goal_counts - MOUNT_COUNTS[j]) / COUNTS_PER_RAD
        self.world.set_torque(j, torque_on)

    def state(self, key: int) -> ShaftState:
        j = self._joint(key)
        w = self.world
        q, v = w.present_joint_rad()[j], w.present_velocity_rad_s()[j]
        load = w.present_torque_nm()[j] / w.servo.max_torque_nm * PERMILLE
        return ShaftState(MOUNT_COUNTS[j] + q * COUNTS_PER_RAD, v * COUNTS_PER_RAD, int(round(load)))

    def _joint(self, key: int) -> int:
        if key not in self._index:
            raise KeyError(f"servo {key} is no SO-101 joint; IDs {list(SERVO_IDS)} for {list(JOINT_NAMES)}")
        return self._index[key]


def world_calibration(low_rad, high_rad, created_utc: str | None = None) -> ArmCalibration:
    """The calibration of the world's servos as `servo_registers` sets them, from the joints' ranges (rad; the
    world's low_rad / high_rad). Arm joints: a range symmetric about MID_COUNT covering the joint's travel (so its
    middle is the joint's zero); wrist_roll the whole turn; the gripper from closed (0) to open (1)."""
    joints = []
    for j, name in enumerate(JOINT_NAMES):
        offset = MOUNT_COUNTS[j] - MID_COUNT
        if name in FULL_TURN:
            lo, hi = 0, COUNTS_PER_TURN - 1
        elif j == GRIPPER:
            lo, hi = (round(MID_COUNT + r * COUNTS_PER_RAD) for r in (low_rad[j], high_rad[j]))
        else:
            half = math.ceil(max(abs(low_rad[j]), abs(high_rad[j])) * COUNTS_PER_RAD)
            lo, hi = MID_COUNT - half, MID_COUNT + half
        mapping = Mapping.FRACTION if j == GRIPPER else Mapping.RADIANS
        joints.append(JointCalibration(name, SERVO_IDS[j], "sts3215", offset, lo, hi, 0, mapping, None))
    return ArmCalibration("so101", tuple(joints), created_utc or utc_now_iso(), "so101-sim servos (derived)")


def servo_registers(cal: ArmCalibration) -> dict[int, dict[str, int]]:
    """{servo ID: registers} the world's servos start with: the calibration's homing offset and position limits
    (as `vla-lite calibrate --write-limits` leaves them), torque on."""
    return {j.servo_id: {"Homing_Offset": j.homing_offset, "Min_Position_Limit": j.range_min,
                         "Max_Position_Limit": j.range_max, "Torque_Enable": 1} for j in cal.joints}
