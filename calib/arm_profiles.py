"""Arm profiles as calibration sees them: which joints an arm has, their servo IDs and models, how each maps to
units, which turn fully; a view over the servo bridge's arm profiles (firmware_bridge/servo/arms/*.json), so the
driver and the calibration read one set of profiles.

Names, IDs and models are LeRobot's (robots/so_follower, robots/koch_follower), so a LeRobot calibration file of
the same arm converts joint by joint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..firmware_bridge.servo.arms import ArmProfile as BusProfile, JointUnit, builtin_arms, load_arm
from .errors import CalibrationFileError
from .joints import Mapping, servo_model

MAPPINGS = {JointUnit.RAD: Mapping.RADIANS, JointUnit.FRACTION: Mapping.FRACTION}


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
    bus: BusProfile | None = field(default=None, compare=False)  # the bridge's profile (to open a ServoBus)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    def joint(self, name: str) -> ProfileJoint:
        for j in self.joints:
            if j.name == name:
                return j
        raise CalibrationFileError(f"arm {self.name!r} has no joint {name!r}; its joints are "
                                   f"{list(self.joint_names)}")


def from_bus_profile(bus: BusProfile) -> ArmProfile:
    """The calibration view of a bridge profile; CalibrationFileError when a servo model cannot be homed."""
    for s in bus.servos:
        servo_model(s.model.name)
    joints = tuple(ProfileJoint(s.name, s.id, s.model.name, MAPPINGS[s.unit], s.full_turn) for s in bus.servos)
    return ArmProfile(bus.name, joints, bus.lerobot_types, bus)


PROFILES = {name: from_bus_profile(load_arm(name)) for name in builtin_arms()}


def arm_profile(name: str) -> ArmProfile:
    if name not in PROFILES:
        raise CalibrationFileError(f"arm profile {name!r} is not known; expected one of {sorted(PROFILES)}")
    return PROFILES[name]


def register_arm_profile(bus: BusProfile) -> ArmProfile:
    """Make a user's own profile (`--arm FILE`) known to calibration files by its name; a built-in name is taken
    (CalibrationFileError) unless it is the same profile."""
    known = PROFILES.get(bus.name)
    if known is not None:
        if known.bus != bus:
            raise CalibrationFileError(f"arm profile name {bus.name!r} is a built-in profile's; give the file's "
                                       "profile another name")
        return known
    PROFILES[bus.name] = profile = from_bus_profile(bus)
    return profile


def load_arm_profile(name_or_path: str) -> ArmProfile:
    """`--arm` as run, doctor and calibrate read it: a built-in profile's name or a profile JSON file (the bridge's
    load_arm: ServoConfigError naming the bad key or value), known by its name from then on."""
    return register_arm_profile(load_arm(name_or_path))
