"""Arm profiles as data: which servos sit on the bus (ID, model, joint name, operating mode), the family and baud.

The built-in profiles (so100, so101, koch) are JSON files in `arms/` read by the same loader as a user's own file
(`load_arm("my_arm.json")`), so any other bus of these servos is one file away. The keys:

    name, description (optional), family ("feetech_sts" | "feetech_scs" | "dynamixel_x"), baudrate,
    return_delay_us (what the servos' Return_Delay_Time is set to; factory 500), fast_sync_read (optional, Dynamixel),
    min_voltage_v / max_temperature_c (optional health thresholds; default: each model's own),
    lerobot_types (optional: LeRobot robot/teleoperator types whose calibration files fit this arm),
    servos: [{name, id, model, mode, unit, full_turn}] in joint order (mode: an OperatingMode value such as
    "position"; unit (optional): "rad" for a revolute joint (default) or "fraction" for a gripper, the units the
    runtime sees; full_turn (optional, default false): the joint has no end stops, so calibration takes the whole
    turn as its range instead of recording one, as LeRobot does for the SO wrist_roll).
"""

from __future__ import annotations

import enum
import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import ServoConfigError
from .tables import MODE_VALUES, ControlTable, Family, Model, OperatingMode, TABLES, model

ARMS_DIR = Path(__file__).with_name("arms")
_KEYS = {"name", "description", "family", "baudrate", "return_delay_us", "fast_sync_read", "min_voltage_v",
         "max_temperature_c", "lerobot_types", "servos"}
_SERVO_KEYS = {"name", "id", "model", "mode"}
_SERVO_OPTIONAL = {"unit", "full_turn"}


class JointUnit(enum.Enum):
    RAD = "rad"  # revolute joint
    FRACTION = "fraction"  # gripper: 0 at one end of its calibrated range, 1 at the other


@dataclass(frozen=True)
class ServoSpec:
    name: str  # joint name, e.g. "shoulder_pan"
    id: int
    model: Model
    mode: OperatingMode
    unit: JointUnit = JointUnit.RAD
    full_turn: bool = False  # no end stops


@dataclass(frozen=True)
class ArmProfile:
    name: str
    family: Family
    baudrate: int
    servos: tuple[ServoSpec, ...]  # joint order
    return_delay_us: int = 500
    fast_sync_read: bool = False
    min_voltage_v: float | None = None
    max_temperature_c: float | None = None
    description: str = ""
    lerobot_types: tuple[str, ...] = ()

    @property
    def ids(self) -> tuple[int, ...]:
        return tuple(s.id for s in self.servos)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.servos)

    @property
    def table(self) -> ControlTable:
        return TABLES[self.family]

    def servo(self, key: int | str) -> ServoSpec:
        """By ID or joint name."""
        for s in self.servos:
            if key == s.id or key == s.name:
                return s
        raise ServoConfigError(f"arm {self.name!r} has no servo {key!r}; IDs {list(self.ids)}, names {list(self.names)}")


def builtin_arms() -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in ARMS_DIR.glob("*.json")))


def load_arm(name_or_path: str | os.PathLike) -> ArmProfile:
    """A built-in profile by name ("so101") or a JSON file path. ServoConfigError naming the bad key or value."""
    path = Path(name_or_path)
    if not (path.suffix == ".json" or path.exists()):
        if str(name_or_path) not in builtin_arms():
            raise ServoConfigError(f"--arm {name_or_path!r} is neither a built-in arm ({', '.join(builtin_arms())}) "
                                   f"nor a JSON file")
        path = ARMS_DIR / f"{name_or_path}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ServoConfigError(f"cannot read arm profile {str(path)!r}: {exc}") from None
    return arm_from_dict(data, source=str(path))


def arm_from_dict(data: dict, source: str = "arm profile") -> ArmProfile:
    if not isinstance(data, dict):
        raise ServoConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
    unknown = set(data) - _KEYS
    missing = {"name", "family", "baudrate", "servos"} - set(data)
    if unknown or missing:
        raise ServoConfigError(f"{source}: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}; "
                               f"expected {sorted(_KEYS)}")
    try:
        family = Family(data["family"])
    except ValueError:
        raise ServoConfigError(f"{source}: family {data['family']!r} is not one of "
                               f"{[f.value for f in Family]}") from None
    baudrate = data["baudrate"]
    if not isinstance(baudrate, int) or baudrate <= 0:
        raise ServoConfigError(f"{source}: baudrate must be a positive integer, got {baudrate!r}")
    delay = data.get("return_delay_us", 500)
    if not isinstance(delay, int) or not 0 <= delay <= 510:
        raise ServoConfigError(f"{source}: return_delay_us must be 0..510 (2 µs steps), got {delay!r}")
    if not isinstance(data["servos"], list) or not data["servos"]:
        raise ServoConfigError(f"{source}: servos must be a non-empty list")
    servos = tuple(_servo(s, family, f"{source} servos[{i}]") for i, s in enumerate(data["servos"]))
    for what, values in (("IDs", [s.id for s in servos]), ("names", [s.name for s in servos])):
        if len(set(values)) != len(values):
            raise ServoConfigError(f"{source}: servo {what} repeat: {values}")
    types = data.get("lerobot_types", [])
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise ServoConfigError(f"{source}: lerobot_types must be a list of strings, got {types!r}")
    return ArmProfile(str(data["name"]), family, baudrate, servos, delay, bool(data.get("fast_sync_read", False)),
                      _optional_float(data, "min_voltage_v", source), _optional_float(data, "max_temperature_c", source),
                      str(data.get("description", "")), tuple(types))


def _servo(entry: dict, family: Family, where: str) -> ServoSpec:
    if not isinstance(entry, dict) or not _SERVO_KEYS <= set(entry) <= _SERVO_KEYS | _SERVO_OPTIONAL:
        raise ServoConfigError(f"{where}: expected an object with keys {sorted(_SERVO_KEYS)} and optionally "
                               f"{sorted(_SERVO_OPTIONAL)}, got {entry!r}")
    servo_id = entry["id"]
    if not isinstance(servo_id, int) or not 0 <= servo_id <= 252:
        raise ServoConfigError(f"{where}: id must be 0..252, got {servo_id!r}")
    m = model(str(entry["model"]))
    if m.family is not family:
        raise ServoConfigError(f"{where}: model {m.name} is {m.family.value}, the arm's bus is {family.value}")
    try:
        mode = OperatingMode(entry["mode"])
    except ValueError:
        raise ServoConfigError(f"{where}: mode {entry['mode']!r} is not one of "
                               f"{[x.value for x in OperatingMode]}") from None
    if mode not in m.modes or mode not in MODE_VALUES[family]:
        raise ServoConfigError(f"{where}: {m.name} has no {mode.value} mode; it has {[x.value for x in m.modes]}")
    try:
        unit = JointUnit(entry.get("unit", "rad"))
    except ValueError:
        raise ServoConfigError(f"{where}: unit {entry['unit']!r} is not one of {[u.value for u in JointUnit]}") from None
    full_turn = entry.get("full_turn", False)
    if not isinstance(full_turn, bool):
        raise ServoConfigError(f"{where}: full_turn must be true or false, got {full_turn!r}")
    return ServoSpec(str(entry["name"]), servo_id, m, mode, unit, full_turn)


def _optional_float(data: dict, key: str, source: str) -> float | None:
    value = data.get(key)
    if value is not None and not isinstance(value, (int, float)):
        raise ServoConfigError(f"{source}: {key} must be a number, got {value!r}")
    return None if value is None else float(value)
