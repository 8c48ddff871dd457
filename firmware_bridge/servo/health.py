"""Servo health as named, latched conditions: pure logic fed by the bus with status error bytes and telemetry.

Every condition latches until `clear()` (a hot servo that cooled by a degree is still a reason to look), and
carries a reason naming the joint, the value and the limit, e.g.
"elbow_flex (ID 3): temperature 80 °C >= limit 70 °C". Its `subject` ("elbow_flex (ID 3) over-temperature")
names where and what without a value, so it can key counts; its `detail` holds the values. The thresholds are the
profile's (min_voltage_v, max_temperature_c) or else each model's own.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import NamedTuple

from . import dynamixel as dxl
from . import feetech as ft
from .arms import ArmProfile


class Condition(enum.Enum):
    OVER_TEMPERATURE = "over_temperature"
    UNDER_VOLTAGE = "under_voltage"
    VOLTAGE_ERROR = "voltage_error"  # the servo's own voltage protection (over or under)
    OVERLOAD = "overload"
    OVERCURRENT = "overcurrent"
    ANGLE_SENSOR = "angle_sensor"
    MOTOR_ENCODER = "motor_encoder"
    ELECTRICAL_SHOCK = "electrical_shock"

    @property
    def label(self) -> str:
        """As people say it: "over-temperature", "under-voltage", "overload", ..."""
        return _LABELS.get(self, self.value.replace("_", " "))


_LABELS = {Condition.OVER_TEMPERATURE: "over-temperature", Condition.UNDER_VOLTAGE: "under-voltage",
           Condition.ANGLE_SENSOR: "angle sensor error", Condition.MOTOR_ENCODER: "motor encoder error"}


_FEETECH_BITS = {ft.StatusError.VOLTAGE: Condition.VOLTAGE_ERROR, ft.StatusError.ANGLE: Condition.ANGLE_SENSOR,
                 ft.StatusError.OVERHEAT: Condition.OVER_TEMPERATURE, ft.StatusError.OVERCURRENT: Condition.OVERCURRENT,
                 ft.StatusError.OVERLOAD: Condition.OVERLOAD}
_DYNAMIXEL_BITS = {dxl.HardwareError.INPUT_VOLTAGE: Condition.VOLTAGE_ERROR,
                   dxl.HardwareError.OVERHEATING: Condition.OVER_TEMPERATURE,
                   dxl.HardwareError.MOTOR_ENCODER: Condition.MOTOR_ENCODER,
                   dxl.HardwareError.ELECTRICAL_SHOCK: Condition.ELECTRICAL_SHOCK,
                   dxl.HardwareError.OVERLOAD: Condition.OVERLOAD}


class Telemetry(NamedTuple):
    temperature_c: int
    voltage_v: float
    load: int  # Feetech Present_Load (0.1 %, signed); Dynamixel Present_Current (mA, or 0.1 % on XL430)
    error_bits: int  # Feetech Status register / Dynamixel Hardware_Error_Status
    at_s: float  # monotonic time of the reading


@dataclass(frozen=True)
class Fault:
    servo_id: int
    joint: str
    condition: Condition
    detail: str  # the values: "temperature 80 °C >= limit 70 °C", "status error bit overload (0x20)"
    since_s: float
    measured: bool = False  # from telemetry values (a bare status bit's fault is replaced by one of these)

    @property
    def subject(self) -> str:
        """Where and what, no value: "elbow_flex (ID 3) over-temperature" (a stable key for counting)."""
        return f"{self.joint} (ID {self.servo_id}) {self.condition.label}"

    @property
    def reason(self) -> str:
        """The whole sentence: "elbow_flex (ID 3): temperature 80 °C >= limit 70 °C"."""
        return f"{self.joint} (ID {self.servo_id}): {self.detail}"


class HealthMonitor:
    def __init__(self, profile: ArmProfile):
        self.profile = profile
        self._names = {s.id: s.name for s in profile.servos}
        self._models = {s.id: s.model for s in profile.servos}
        self.telemetry: dict[int, Telemetry] = {}
        self._latched: dict[tuple[int, Condition], Fault] = {}

    def faults(self) -> tuple[Fault, ...]:
        """The latched conditions, by servo ID then condition."""
        order = list(Condition)
        return tuple(sorted(self._latched.values(), key=lambda f: (f.servo_id, order.index(f.condition))))

    def conditions(self, servo_id: int) -> frozenset[Condition]:
        return frozenset(c for (i, c) in self._latched if i == servo_id)

    def clear(self) -> None:
        """Forget every latched condition (after a person looked; still-present causes latch again)."""
        self._latched.clear()

    def on_status(self, servo_id: int, error: int, now_s: float) -> bool:
        """A status packet's error byte. Returns True when a Dynamixel alert asks for Hardware_Error_Status."""
        if self.profile.family.is_dynamixel:
            return bool(error & dxl.ALERT)
        self._error_bits(servo_id, error, _FEETECH_BITS, "status error", now_s)
        return False

    def on_telemetry(self, servo_id: int, t: Telemetry) -> None:
        self.telemetry[servo_id] = t
        bits = _DYNAMIXEL_BITS if self.profile.family.is_dynamixel else _FEETECH_BITS
        self._error_bits(servo_id, t.error_bits, bits, "hardware error", t.at_s)
        model = self._models.get(servo_id)
        if model is None:
            return
        max_c = self.profile.max_temperature_c or model.max_temperature_c
        min_v = self.profile.min_voltage_v or model.min_voltage_v
        if t.temperature_c >= max_c:  # a reason naming the value replaces a bare status bit's
            self._latch(servo_id, Condition.OVER_TEMPERATURE,
                        f"temperature {t.temperature_c} °C >= limit {max_c:g} °C", t.at_s, measured=True)
        if t.voltage_v < min_v:
            self._latch(servo_id, Condition.UNDER_VOLTAGE, f"supply {t.voltage_v:.1f} V < minimum {min_v:g} V", t.at_s,
                        measured=True)

    def _error_bits(self, servo_id: int, bits: int, table: dict, what: str, now_s: float) -> None:
        for flag, condition in table.items():
            if bits & flag:
                self._latch(servo_id, condition, f"{what} bit {flag.name.lower()} (0x{int(bits):02X})", now_s)

    def _latch(self, servo_id: int, condition: Condition, why: str, now_s: float, measured: bool = False) -> None:
        key = (servo_id, condition)
        first = self._latched.get(key)
        if first is None or (measured and not first.measured):
            joint = self._names.get(servo_id, f"ID {servo_id}")
            since = now_s if first is None else first.since_s
            self._latched[key] = Fault(servo_id, joint, condition, why, since, measured)
