"""Does a bundle fit the arm it is about to drive? Checked at connect time against what the controller announced
at HELLO_ACK (vla_lite.firmware_bridge.arm_config.ArmConfig). Pure: raises BundleMismatch naming both sides.
"""

from __future__ import annotations

from ..firmware_bridge.arm_config import ArmConfig
from ..firmware_bridge.protocol import Mode, Unit
from .errors import BundleMismatch
from .manifest import Manifest

MODE = {"joint_position": Mode.JOINT_POSITION, "joint_velocity": Mode.JOINT_VELOCITY, "ee_delta": Mode.EE_DELTA}
# Manifest unit of a joint's position / velocity, by the unit the controller declares for that joint.
POSITION_UNIT = {Unit.RAD: "rad", Unit.M: "m", Unit.FRACTION: "1"}
VELOCITY_UNIT = {Unit.RAD: "rad/s", Unit.M: "m/s", Unit.FRACTION: "1"}
# PROTOCOL.md §2: EE_DELTA is dx dy dz (m) + gripper, or dx dy dz (m) + drx dry drz (rad) + gripper.
EE_DELTA_UNITS = {4: ("m", "m", "m", "1"), 7: ("m", "m", "m", "rad", "rad", "rad", "1")}


def check_compatible(manifest: Manifest, arm: ArmConfig) -> None:
    """Refuse a bundle whose action mode the controller does not offer, whose action joints differ from the
    controller's joints (names, or order), whose units differ, whose state names a joint the controller lacks,
    or whose control rate exceeds the controller's maximum."""
    a = manifest.action
    mode = MODE[a.mode]
    if mode not in arm.modes:
        raise BundleMismatch(f"bundle action mode is {a.mode!r} but controller {arm.name!r} offers "
                             f"{[m.name.lower() for m in arm.modes]}")
    if manifest.rate_hz > arm.max_rate_hz:
        raise BundleMismatch(f"bundle control rate is {manifest.rate_hz} Hz but controller {arm.name!r} accepts "
                             f"at most {arm.max_rate_hz} Hz")
    units_on_arm = {j.name: j.unit for j in arm.joints}
    if mode is Mode.EE_DELTA:
        expected = EE_DELTA_UNITS.get(a.dim)
        if expected is None:
            raise BundleMismatch(f"bundle action dim is {a.dim} in mode ee_delta; the protocol expects 4 "
                                 "(dx dy dz gripper) or 7 (dx dy dz drx dry drz gripper)")
        if a.units != expected:
            raise BundleMismatch(f"bundle ee_delta units are {list(a.units)}; the protocol expects "
                                 f"{list(expected)}")
    else:
        names_on_arm = arm.joint_names
        if a.names != names_on_arm:
            what = "order" if sorted(a.names) == sorted(names_on_arm) else "names"
            raise BundleMismatch(f"bundle action joints {list(a.names)} differ in {what} from controller "
                                 f"{arm.name!r} joints {list(names_on_arm)}")
        table = POSITION_UNIT if mode is Mode.JOINT_POSITION else VELOCITY_UNIT
        for name, unit in zip(a.names, a.units):
            if unit != table[units_on_arm[name]]:
                raise BundleMismatch(f"joint {name!r}: bundle action unit is {unit!r} but the controller's joint "
                                     f"is in {units_on_arm[name].name} (expected {table[units_on_arm[name]]!r})")
    for name, unit in zip(manifest.state.names, manifest.state.units):
        if name not in units_on_arm:
            raise BundleMismatch(f"bundle state needs joint {name!r} but controller {arm.name!r} reports "
                                 f"{list(arm.joint_names)}")
        if unit != POSITION_UNIT[units_on_arm[name]]:
            raise BundleMismatch(f"joint {name!r}: bundle state unit is {unit!r} but the controller's joint is "
                                 f"in {units_on_arm[name].name} (expected {POSITION_UNIT[units_on_arm[name]]!r})")
