"""Servo counts <-> joint units, per joint: pure functions over ints and numpy arrays (no I/O).

Conventions, chosen so LeRobot data and policies run unchanged (checked against LeRobot 0.3.3-0.6.1,
`lerobot/motors/motors_bus.py` `_normalize`/`_unnormalize` and `feetech.py`/`dynamixel.py` calibration):

- RADIANS (revolute joints) = LeRobot's DEGREES mode x pi/180:
      rad = (present - (range_min + range_max) / 2) * 2*pi / (resolution - 1)     # 4095, not 4096; not clipped
  LeRobot applies no drive_mode in degrees mode, so neither do we.
- FRACTION (the gripper) = LeRobot's RANGE_0_100 mode / 100:
      f = (clip(present, range_min, range_max) - range_min) / (range_max - range_min);  1 - f when drive_mode is 1
  on a bus where LeRobot applies drive_mode in software (Feetech; a Dynamixel reverses in its own register).
- Units -> counts rounds to the nearest count (LeRobot truncates with int(), so the two agree to one count) and
  clips to the calibrated range, the same range LeRobot writes to the servo's Min/Max_Position_Limit.

Homing offsets follow the servo: Feetech Present = (Actual - Homing_Offset) mod 4096 with the offset stored
sign-magnitude in 12 bits (bit 11 = sign, so |offset| <= 2047); Dynamixel X Present = Actual + Homing_Offset.
The servo facts (model numbers, counts per turn, the Homing_Offset register and its codec) are the servo bridge's
(vla_lite.firmware_bridge.servo.tables and .feetech): one source for the driver and the calibration.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

import numpy as np

from ..firmware_bridge.servo.feetech import decode_sign_magnitude, encode_sign_magnitude  # noqa: F401 (re-export)
from ..firmware_bridge.servo.tables import MODELS, Model, Register, Sign
from .errors import CalibrationFileError, HomingError


class Mapping(str, enum.Enum):
    RADIANS = "radians"  # revolute joint, rad
    FRACTION = "fraction"  # gripper, 0 (range_min) .. 1 (range_max)


class ServoFamily(str, enum.Enum):
    FEETECH = "feetech"
    DYNAMIXEL = "dynamixel"


@dataclass(frozen=True)
class ServoModel:
    """A servo model as calibration sees it: the bridge's model (tables.Model) and its Homing_Offset register."""
    spec: Model

    @property
    def name(self) -> str:
        return self.spec.name  # LeRobot's model key, e.g. "sts3215"

    @property
    def family(self) -> ServoFamily:
        return ServoFamily.DYNAMIXEL if self.spec.family.is_dynamixel else ServoFamily.FEETECH

    @property
    def model_number(self) -> int:
        return self.spec.number  # what Model_Number reads

    @property
    def resolution(self) -> int:
        return self.spec.counts_per_turn

    @property
    def offset_register(self) -> Register:
        return self.spec.table["Homing_Offset"]

    @property
    def offset_sign_bit(self) -> int | None:
        """Homing_Offset's sign-magnitude sign bit; None: two's complement (Dynamixel, 4 B)."""
        reg = self.offset_register
        return reg.sign_bit if reg.sign is Sign.SIGN_MAGNITUDE else None

    @property
    def offset_limit(self) -> int:
        return self.offset_register.max_magnitude  # largest |Homing_Offset| the register holds

    @property
    def max_count(self) -> int:
        return self.resolution - 1  # LeRobot's max_res: the degrees scale and the full-turn range end

    @property
    def mid_count(self) -> int:
        return self.max_count // 2  # 2047: where LeRobot homes the middle pose (int(max_res / 2))

    @property
    def software_drive_mode(self) -> bool:
        """LeRobot's apply_drive_mode: Feetech flips range-mode values in software, Dynamixel in the servo."""
        return self.family is ServoFamily.FEETECH


# Every bridge model that can be homed (it has a Homing_Offset register; the SCS family has none).
SERVO_MODELS = {m.name: ServoModel(m) for m in MODELS.values() if "Homing_Offset" in m.table.registers}


def servo_model(name: str) -> ServoModel:
    if name not in SERVO_MODELS:
        raise CalibrationFileError(f"servo model {name!r} is not known; expected one of {sorted(SERVO_MODELS)}")
    return SERVO_MODELS[name]


# --- the Homing_Offset register -----------------------------------------------------------------------------

def present_from_actual(actual, homing_offset: int, model: ServoModel):
    """What Present_Position reads at this encoder position (wraps at one turn, as the servo does)."""
    sign = -1 if model.family is ServoFamily.FEETECH else 1
    return (np.asarray(actual) + sign * homing_offset) % model.resolution


def actual_from_present(present, homing_offset: int, model: ServoModel):
    sign = 1 if model.family is ServoFamily.FEETECH else -1
    return (np.asarray(present) + sign * homing_offset) % model.resolution


def circular_diff(a, b, resolution: int):
    """a - b in counts, wrapped into [-resolution/2, resolution/2): the short way round the encoder."""
    return (np.asarray(a) - np.asarray(b) + resolution // 2) % resolution - resolution // 2


# --- one joint ----------------------------------------------------------------------------------------------

def _integer(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise CalibrationFileError(f"{what} must be an integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class JointCalibration:
    name: str
    servo_id: int
    servo_model: str  # a SERVO_MODELS key
    homing_offset: int  # counts, in the servo's own convention (see the module docstring)
    range_min: int  # Present_Position counts at the joint's measured ends
    range_max: int
    drive_mode: int  # 0 or 1, LeRobot's meaning
    mapping: Mapping
    firmware: str | None = None  # "major.minor" as read from the servo; None when not seen (a converted file)

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise CalibrationFileError(f"joint name must be a non-empty string, got {self.name!r}")
        model = servo_model(self.servo_model)
        where = f"joint {self.name!r}"
        if not 0 <= _integer(self.servo_id, f"{where} servo_id") <= 253:
            raise CalibrationFileError(f"{where}: servo_id {self.servo_id} is outside 0..253")
        lo, hi = _integer(self.range_min, f"{where} range_min"), _integer(self.range_max, f"{where} range_max")
        if not 0 <= lo < hi <= model.max_count:
            raise CalibrationFileError(f"{where}: range [{lo}, {hi}] counts; expected 0 <= range_min < range_max "
                                       f"<= {model.max_count} (a joint that did not move has min == max)")
        if _integer(self.drive_mode, f"{where} drive_mode") not in (0, 1):
            raise CalibrationFileError(f"{where}: drive_mode {self.drive_mode}; expected 0 or 1")
        check_homing_offset(self.name, _integer(self.homing_offset, f"{where} homing_offset"), model)
        if self.firmware is not None and not isinstance(self.firmware, str):
            raise CalibrationFileError(f"{where}: firmware {self.firmware!r}; expected a string or null")
        object.__setattr__(self, "mapping", Mapping(self.mapping))

    @property
    def model(self) -> ServoModel:
        return SERVO_MODELS[self.servo_model]

    @property
    def full_turn(self) -> bool:
        """A joint without end stops (LeRobot gives the SO wrist_roll 0..4095)."""
        return self.range_min == 0 and self.range_max == self.model.max_count

    @property
    def flips(self) -> bool:
        return self.mapping is Mapping.FRACTION and self.drive_mode == 1 and self.model.software_drive_mode


def check_homing_offset(joint: str, offset: int, model: ServoModel) -> int:
    """The offset if the servo's Homing_Offset field holds it; else HomingError naming the joint and the fix."""
    if abs(offset) > model.offset_limit:
        raise HomingError(
            f"joint {joint!r} needs a homing offset of {offset} counts, but the {model.name} Homing_Offset field "
            f"holds at most +-{model.offset_limit} (its sign is bit {model.offset_sign_bit}). The servo read a "
            f"position outside 0..{model.max_count} at the middle pose: clear the multi-turn angle-feedback bit "
            "(Phase register 18, bit 4), or re-seat the horn one spline nearer the middle of the servo's turn, "
            "then home again")
    return offset


def units_from_counts(joint: JointCalibration, present):
    """Present_Position counts (int or array) -> radians (not clipped) or gripper fraction (clipped to 0..1)."""
    p = np.asarray(present, dtype=np.float64)
    lo, hi = joint.range_min, joint.range_max
    if joint.mapping is Mapping.RADIANS:
        out = (p - (lo + hi) / 2) * (2 * math.pi / joint.model.max_count)
    else:
        out = (np.clip(p, lo, hi) - lo) / (hi - lo)
        out = 1.0 - out if joint.flips else out
    return float(out) if out.ndim == 0 else out


def counts_from_units(joint: JointCalibration, value):
    """Radians or gripper fraction -> the nearest count inside [range_min, range_max] (int or int64 array)."""
    v = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"joint {joint.name!r}: cannot command a non-finite value {value!r}")
    lo, hi = joint.range_min, joint.range_max
    if joint.mapping is Mapping.RADIANS:
        c = v * (joint.model.max_count / (2 * math.pi)) + (lo + hi) / 2
    else:
        f = np.clip(1.0 - v if joint.flips else v, 0.0, 1.0)
        c = f * (hi - lo) + lo
    out = np.clip(np.rint(c), lo, hi).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def unit_range(joint: JointCalibration) -> tuple[float, float]:
    """The calibrated range in joint units, low <= high."""
    a, b = units_from_counts(joint, joint.range_min), units_from_counts(joint, joint.range_max)
    return (min(a, b), max(a, b))
