"""What a servo arm (vla_lite.servo_arm) announces and counts: its ArmConfig, as a vla-lite controller would send
at HELLO_ACK, and its link counters for the run report.

Limits come from the calibration: each joint's calibrated range in joint units (rad; the gripper 0..1). Speeds
from the servo model's no-load speed (counts/s) through the same mapping; acceleration ACC_PER_VEL x that per
second (full speed in a quarter second), a bound for the safety filter's step planning, not the servo's own.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from .calib.arm_calibration import ArmCalibration
from .calib.joints import Mapping, unit_range
from .firmware_bridge import protocol as p
from .firmware_bridge.arm_config import ArmConfig
from .firmware_bridge.servo import ArmProfile, ServoBus
from .pacing import percentiles_ms

ACC_PER_VEL = 4.0  # 1/s


def arm_config(profile: ArmProfile, cal: ArmCalibration, max_rate_hz: float) -> ArmConfig:
    """The arm as the runtime sees it: joints in the profile's order, named as LeRobot names them."""
    joints = []
    for servo, j in zip(profile.servos, cal.joints):
        lo, hi = unit_range(j)
        if j.mapping is Mapping.FRACTION:
            unit, per_count = p.Unit.FRACTION, 1.0 / (j.range_max - j.range_min)
        else:
            unit, per_count = p.Unit.RAD, 2 * math.pi / j.model.max_count
        vel = servo.model.max_speed_counts_s * per_count
        joints.append(p.JointInfo(j.name, unit, lo, hi, vel, ACC_PER_VEL * vel, 0.0))
    return ArmConfig(f"{profile.name} servo bus", tuple(joints), modes=(p.Mode.JOINT_POSITION,),
                     max_rate_hz=max_rate_hz, watchdog_ms=0, torque_off_ms=0)


class ServoArmStats:
    """The link counters the loop and the report read (the names ArmLink's LinkStats uses where they mean the same:
    commands_lost here are goals the bus withheld), plus the servo bus's own."""

    def __init__(self, bus: ServoBus):
        self._bus = bus
        self.commands_sent = self.commands_lost = self.states_received = 0
        self.link_faults = self.reconnects = 0
        self.reads = 0  # sync reads of every joint's position
        self.incomplete_reads = 0  # ... with one reply or more missing or corrupt (no new state)
        self.readings_lost = 0  # joint positions not read fresh, over all reads
        self.read_s: deque = deque(maxlen=100_000)  # duration of each sync read, retries included

    def on_read(self, reading, duration_s: float) -> None:
        self.reads += 1
        self.read_s.append(duration_s)
        lost = int(np.count_nonzero(~reading.fresh))
        self.readings_lost += lost
        self.incomplete_reads += bool(lost)

    def as_dict(self) -> dict:
        bus = self._bus.stats()
        return {"commands_sent": self.commands_sent, "commands_acked": 0, "commands_lost": self.commands_lost,
                "states_received": self.states_received, "link_faults": self.link_faults,
                "reconnects": self.reconnects, "logs_received": 0,
                "rtt_ms": percentiles_ms(np.asarray(self.read_s)),  # a sync read: request to the last reply
                "reads": self.reads, "incomplete_reads": self.incomplete_reads, "readings_lost": self.readings_lost,
                "goals_withheld": bus["link"]["withheld_writes"],
                "health_faults": [f.reason for f in self._bus.health.faults()],
                "servos": {self._bus.profile.servo(i).name: s for i, s in bus["servos"].items()
                           if i in self._bus.profile.ids},
                "bus": bus["link"], "decoder": bus["decoder"]}
