"""Arm profiles: which joints an arm has, their servo IDs and models, how each maps to units, which turn fully.

Names, IDs and models are LeRobot's (robots/so_follower, robots/koch_follower), so a LeRobot calibration file of
the same arm converts joint by joint.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CalibrationFileError
from .joints import Mapping, servo_model


@dataclass(frozen=True)
class ProfileJoint:
    name: str
    servo_id: int
    servo_model: str
    mapping: Mapping
    full_turn: bool = False  # no end stops: the range is the whole turn (0..resolution-1), not recorded


@dataclass(frozen=True)
class ArmProfile:
    name: str
    joints: tuple[ProfileJoint, ...]
    lerobot_types: tuple[str, ...]  # LeRobot robot/teleoperator types whose calibration files fit this arm

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def joint(self, name: str) -> ProfileJoint:
        for j in self.joints:
            if j.name == name:
                return j
        raise CalibrationFileError(f"arm {self.name!r} has no joint {name!r}; its joints are "
                                   f"{list(self.joint_names)}")


def _so_arm(name: str, types: tuple[str, ...]) -> ArmProfile:
    R, F = Mapping.RADIANS, Mapping.FRACTION
    joints = (("shoulder_pan", R), ("shoulder_lift", R), ("elbow_flex", R), ("wrist_flex", R),
              ("wrist_roll", R), ("gripper", F))
    return ArmProfile(name, tuple(ProfileJoint(n, i, "sts3215", m, full_turn=(n == "wrist_roll"))
                                  for i, (n, m) in enumerate(joints, start=1)), types)


def _koch() -> ArmProfile:
    R, F = Mapping.RADIANS, Mapping.FRACTION
    joints = (("shoulder_pan", "xl430-w250", R, True), ("shoulder_lift", "xl430-w250", R, False),
              ("elbow_flex", "xl330-m288", R, False), ("wrist_flex", "xl330-m288", R, False),
              ("wrist_roll", "xl330-m288", R, True), ("gripper", "xl330-m288", F, False))
    return ArmProfile("koch", tuple(ProfileJoint(n, i, model, m, full)
                                    for i, (n, model, m, full) in enumerate(joints, start=1)),
                      ("koch_follower", "koch_leader"))


PROFILES = {p.name: p for p in (
    _so_arm("so101", ("so101_follower", "so101_leader", "so_follower", "so_leader")),
    _so_arm("so100", ("so100_follower", "so100_leader", "so_follower", "so_leader")),
    _koch(),
)}

for _p in PROFILES.values():  # a typo in a model name fails at import, not at the first calibration
    for _j in _p.joints:
        servo_model(_j.servo_model)


def arm_profile(name: str) -> ArmProfile:
    if name not in PROFILES:
        raise CalibrationFileError(f"arm profile {name!r} is not known; expected one of {sorted(PROFILES)}")
    return PROFILES[name]
