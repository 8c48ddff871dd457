"""Control tables as data: register name -> address, size, sign encoding, EEPROM or RAM, access, factory default;
one table per servo family, and the servo models with their model numbers.

Sources: the vendors' manuals as LeRobot's tables transcribe them (Feetech STS/SMS and SCS, Dynamixel X series).
The signs: Feetech uses sign-magnitude (position and speed bit 15, Homing_Offset bit 11, load bit 10), Dynamixel
two's complement. EEPROM registers (below `eeprom_end`) keep their value across power cycles and are written only
through ServoBus.write_eeprom (Feetech: with Lock cleared; Dynamixel: with torque off).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Mapping

from .errors import ServoConfigError
from .feetech import decode_sign_magnitude, encode_sign_magnitude


class Family(enum.Enum):
    FEETECH_STS = "feetech_sts"  # STS/SMS, protocol 0, little-endian
    FEETECH_SCS = "feetech_scs"  # SCS, protocol 1, big-endian
    DYNAMIXEL_X = "dynamixel_x"  # Protocol 2.0, X series

    @property
    def is_dynamixel(self) -> bool:
        return self is Family.DYNAMIXEL_X


class Sign(enum.Enum):
    UNSIGNED = "u"
    SIGN_MAGNITUDE = "sm"
    TWOS_COMPLEMENT = "2c"


class Area(enum.Enum):
    EEPROM = "eeprom"
    RAM = "ram"


@dataclass(frozen=True)
class Register:
    name: str
    address: int
    size: int  # bytes
    area: Area
    writable: bool
    sign: Sign = Sign.UNSIGNED
    sign_bit: int = 0  # SIGN_MAGNITUDE only
    default: int = 0  # factory value, signed
    limit: int | None = None  # the largest |value| the servo accepts, when the manual sets one below the field's

    @property
    def max_magnitude(self) -> int:
        """The largest |value| this register holds (and the servo accepts)."""
        bits = 8 * self.size
        field = {Sign.SIGN_MAGNITUDE: (1 << self.sign_bit) - 1, Sign.TWOS_COMPLEMENT: (1 << bits - 1) - 1,
                 Sign.UNSIGNED: (1 << bits) - 1}[self.sign]
        return field if self.limit is None else min(field, self.limit)

    def to_raw(self, value: int) -> int:
        """Signed value -> unsigned register content; ServoConfigError naming the value if it does not fit."""
        bits = 8 * self.size
        if self.sign is Sign.SIGN_MAGNITUDE:
            return encode_sign_magnitude(value, self.sign_bit, self.name)
        if self.sign is Sign.TWOS_COMPLEMENT:
            if not -(1 << bits - 1) <= value < 1 << bits - 1:
                raise ServoConfigError(f"{self.name} = {value} does not fit {bits} signed bits")
            if self.limit is not None and abs(value) > self.limit:
                raise ServoConfigError(f"{self.name} = {value} is outside the servo's range +-{self.limit}")
            return value & ((1 << bits) - 1)
        if not 0 <= value < 1 << bits:
            raise ServoConfigError(f"{self.name} = {value} does not fit {bits} unsigned bits")
        return value

    def from_raw(self, raw: int) -> int:
        if self.sign is Sign.SIGN_MAGNITUDE:
            return decode_sign_magnitude(raw, self.sign_bit)
        if self.sign is Sign.TWOS_COMPLEMENT and raw >> (8 * self.size - 1):
            return raw - (1 << 8 * self.size)
        return raw


@dataclass(frozen=True)
class ControlTable:
    family: Family
    byteorder: str  # "little" or "big"
    eeprom_end: int  # first RAM address
    memory_size: int  # addressable bytes
    registers: Mapping[str, Register]

    def __getitem__(self, name: str) -> Register:
        try:
            return self.registers[name]
        except KeyError:
            raise ServoConfigError(f"{self.family.value} has no register {name!r}; known: "
                                   f"{', '.join(sorted(self.registers))}") from None

    def encode(self, name: str, value: int) -> bytes:
        reg = self[name]
        return reg.to_raw(int(value)).to_bytes(reg.size, self.byteorder)

    def decode(self, name: str, data: bytes) -> int:
        return self[name].from_raw(int.from_bytes(data, self.byteorder))

    def span(self, names) -> tuple[int, int]:
        """(address, length) of the smallest block covering the named registers (one READ for all of them)."""
        regs = [self[n] for n in names]
        start = min(r.address for r in regs)
        return start, max(r.address + r.size for r in regs) - start


def _table(family: Family, byteorder: str, eeprom_end: int, memory_size: int, rows: str) -> ControlTable:
    """rows: one register a line, `name address size access sign default [limit]` (access R/RW; sign u, 2c or
    smN; limit: the manual's range +-limit where it is narrower than the field)."""
    registers = {}
    for line in rows.strip().splitlines():
        name, address, size, access, sign, default, *limit = line.split()
        address = int(address)
        sign_bit = int(sign[2:]) if sign.startswith("sm") else 0
        registers[name] = Register(name, address, int(size), Area.EEPROM if address < eeprom_end else Area.RAM,
                                   access == "RW", Sign(sign[:2] if sign_bit else sign), sign_bit, int(default),
                                   int(limit[0]) if limit else None)
    return ControlTable(family, byteorder, eeprom_end, memory_size, MappingProxyType(registers))


# Feetech STS/SMS (STS3215: the SO-100/SO-101 servo). Return_Delay_Time in 2 µs, voltages in 0.1 V.
FEETECH_STS = _table(Family.FEETECH_STS, "little", 40, 256, """
Firmware_Major_Version 0 1 R u 3
Firmware_Minor_Version 1 1 R u 10
Model_Number 3 2 R u 777
ID 5 1 RW u 1
Baud_Rate 6 1 RW u 0
Return_Delay_Time 7 1 RW u 250
Response_Status_Level 8 1 RW u 1
Min_Position_Limit 9 2 RW u 0
Max_Position_Limit 11 2 RW u 4095
Max_Temperature_Limit 13 1 RW u 70
Max_Voltage_Limit 14 1 RW u 140
Min_Voltage_Limit 15 1 RW u 40
Max_Torque_Limit 16 2 RW u 1000
Phase 18 1 RW u 12
Unloading_Condition 19 1 RW u 44
LED_Alarm_Condition 20 1 RW u 47
P_Coefficient 21 1 RW u 32
D_Coefficient 22 1 RW u 32
I_Coefficient 23 1 RW u 0
Minimum_Startup_Force 24 2 RW u 16
CW_Dead_Zone 26 1 RW u 1
CCW_Dead_Zone 27 1 RW u 1
Protection_Current 28 2 RW u 500
Angular_Resolution 30 1 RW u 1
Homing_Offset 31 2 RW sm11 0
Operating_Mode 33 1 RW u 0
Protective_Torque 34 1 RW u 20
Protection_Time 35 1 RW u 200
Overload_Torque 36 1 RW u 80
Velocity_P_Coefficient 37 1 RW u 10
Over_Current_Protection_Time 38 1 RW u 200
Velocity_I_Coefficient 39 1 RW u 200
Torque_Enable 40 1 RW u 0
Acceleration 41 1 RW u 0
Goal_Position 42 2 RW sm15 0
Goal_Time 44 2 RW u 0
Goal_Velocity 46 2 RW sm15 0
Torque_Limit 48 2 RW u 1000
Lock 55 1 RW u 1
Present_Position 56 2 R sm15 0
Present_Velocity 58 2 R sm15 0
Present_Load 60 2 R sm10 0
Present_Voltage 62 1 R u 120
Present_Temperature 63 1 R u 30
Status 65 1 R u 0
Moving 66 1 R u 0
Present_Current 69 2 R u 0
""")

# Feetech SCS (big-endian, 1024 counts per turn). Lock sits at 48 here, not 55.
FEETECH_SCS = _table(Family.FEETECH_SCS, "big", 40, 256, """
Firmware_Major_Version 0 1 R u 3
Firmware_Minor_Version 1 1 R u 10
Model_Number 3 2 R u 1284
ID 5 1 RW u 1
Baud_Rate 6 1 RW u 0
Return_Delay_Time 7 1 RW u 250
Response_Status_Level 8 1 RW u 1
Min_Position_Limit 9 2 RW u 0
Max_Position_Limit 11 2 RW u 1023
Max_Temperature_Limit 13 1 RW u 70
Max_Voltage_Limit 14 1 RW u 90
Min_Voltage_Limit 15 1 RW u 40
Max_Torque_Limit 16 2 RW u 1000
Protective_Torque 37 1 RW u 20
Protection_Time 38 1 RW u 200
Torque_Enable 40 1 RW u 0
Acceleration 41 1 RW u 0
Goal_Position 42 2 RW u 0
Running_Time 44 2 RW u 0
Goal_Velocity 46 2 RW u 0
Lock 48 1 RW u 1
Present_Position 56 2 R u 0
Present_Velocity 58 2 R sm15 0
Present_Load 60 2 R sm10 0
Present_Voltage 62 1 R u 60
Present_Temperature 63 1 R u 30
Status 65 1 R u 0
Moving 66 1 R u 0
""")

# Dynamixel X series (XL430-W250, XL330-M288/M077, XM430-W350). Present_Current is Present_Load (0.1 %) on XL430.
# Homing_Offset accepts +-1,044,479 counts (255 turns), less than its 4 bytes hold.
DYNAMIXEL_X = _table(Family.DYNAMIXEL_X, "little", 64, 256, """
Model_Number 0 2 R u 1060
Model_Information 2 4 R u 0
Firmware_Version 6 1 R u 48
ID 7 1 RW u 1
Baud_Rate 8 1 RW u 1
Return_Delay_Time 9 1 RW u 250
Drive_Mode 10 1 RW u 0
Operating_Mode 11 1 RW u 3
Secondary_ID 12 1 RW u 255
Protocol_Type 13 1 RW u 2
Homing_Offset 20 4 RW 2c 0 1044479
Moving_Threshold 24 4 RW u 10
Temperature_Limit 31 1 RW u 72
Max_Voltage_Limit 32 2 RW u 140
Min_Voltage_Limit 34 2 RW u 60
PWM_Limit 36 2 RW u 885
Current_Limit 38 2 RW u 1750
Acceleration_Limit 40 4 RW u 32767
Velocity_Limit 44 4 RW u 265
Max_Position_Limit 48 4 RW u 4095
Min_Position_Limit 52 4 RW u 0
Shutdown 63 1 RW u 52
Torque_Enable 64 1 RW u 0
LED 65 1 RW u 0
Status_Return_Level 68 1 RW u 2
Registered_Instruction 69 1 R u 0
Hardware_Error_Status 70 1 R u 0
Velocity_I_Gain 76 2 RW u 1000
Velocity_P_Gain 78 2 RW u 100
Position_D_Gain 80 2 RW u 0
Position_I_Gain 82 2 RW u 0
Position_P_Gain 84 2 RW u 640
Feedforward_2nd_Gain 88 2 RW u 0
Feedforward_1st_Gain 90 2 RW u 0
Bus_Watchdog 98 1 RW u 0
Goal_PWM 100 2 RW 2c 885
Goal_Current 102 2 RW 2c 1750
Goal_Velocity 104 4 RW 2c 0
Profile_Acceleration 108 4 RW u 0
Profile_Velocity 112 4 RW u 0
Goal_Position 116 4 RW 2c 0
Realtime_Tick 120 2 R u 0
Moving 122 1 R u 0
Moving_Status 123 1 R u 0
Present_PWM 124 2 R 2c 0
Present_Current 126 2 R 2c 0
Present_Velocity 128 4 R 2c 0
Present_Position 132 4 R 2c 0
Velocity_Trajectory 136 4 R 2c 0
Position_Trajectory 140 4 R 2c 0
Present_Input_Voltage 144 2 R u 120
Present_Temperature 146 1 R u 30
""")

TABLES = {t.family: t for t in (FEETECH_STS, FEETECH_SCS, DYNAMIXEL_X)}


class OperatingMode(enum.Enum):
    POSITION = "position"
    EXTENDED_POSITION = "extended_position"  # Dynamixel: multi-turn
    CURRENT_POSITION = "current_position"  # Dynamixel: position control with a current limit (grippers)
    VELOCITY = "velocity"
    CURRENT = "current"
    PWM = "pwm"
    STEP = "step"  # Feetech


# Operating_Mode register values per family.
MODE_VALUES = {
    Family.FEETECH_STS: {OperatingMode.POSITION: 0, OperatingMode.VELOCITY: 1, OperatingMode.PWM: 2,
                         OperatingMode.STEP: 3},
    Family.FEETECH_SCS: {OperatingMode.POSITION: 0},
    Family.DYNAMIXEL_X: {OperatingMode.CURRENT: 0, OperatingMode.VELOCITY: 1, OperatingMode.POSITION: 3,
                         OperatingMode.EXTENDED_POSITION: 4, OperatingMode.CURRENT_POSITION: 5,
                         OperatingMode.PWM: 16},
}


@dataclass(frozen=True)
class Model:
    name: str
    number: int  # what Model_Number reads
    family: Family
    counts_per_turn: int
    max_speed_counts_s: float  # no-load speed at nominal voltage
    nominal_voltage_v: float
    min_voltage_v: float  # below this the servo is under-voltage
    max_temperature_c: float  # the factory temperature limit
    modes: tuple[OperatingMode, ...]
    defaults: tuple[tuple[str, int], ...] = ()  # factory values where this model differs from its family's table

    @property
    def table(self) -> ControlTable:
        return TABLES[self.family]


_P, _E, _C, _V = (OperatingMode.POSITION, OperatingMode.EXTENDED_POSITION, OperatingMode.CURRENT_POSITION,
                  OperatingMode.VELOCITY)
_XL330 = (("Max_Voltage_Limit", 70), ("Min_Voltage_Limit", 35), ("Temperature_Limit", 70), ("Velocity_Limit", 445))
MODELS = {m.name: m for m in (
    Model("sts3215", 777, Family.FEETECH_STS, 4096, 3000.0, 12.0, 4.5, 70.0, (_P, _V, OperatingMode.PWM)),
    Model("sts3250", 2825, Family.FEETECH_STS, 4096, 3000.0, 12.0, 9.0, 70.0, (_P, _V, OperatingMode.PWM)),
    Model("scs0009", 1284, Family.FEETECH_SCS, 1024, 900.0, 6.0, 4.0, 70.0, (_P,)),
    Model("xl430-w250", 1060, Family.DYNAMIXEL_X, 4096, 3890.0, 12.0, 6.5, 72.0, (_V, _P, _E, OperatingMode.PWM)),
    Model("xl330-m288", 1200, Family.DYNAMIXEL_X, 4096, 7000.0, 5.0, 3.7, 70.0,
          (OperatingMode.CURRENT, _V, _P, _E, _C, OperatingMode.PWM), _XL330),
    Model("xl330-m077", 1190, Family.DYNAMIXEL_X, 4096, 26000.0, 5.0, 3.7, 70.0,
          (OperatingMode.CURRENT, _V, _P, _E, _C, OperatingMode.PWM), _XL330),
    Model("xm430-w350", 1020, Family.DYNAMIXEL_X, 4096, 3140.0, 12.0, 10.0, 80.0,
          (OperatingMode.CURRENT, _V, _P, _E, _C, OperatingMode.PWM),
          (("Max_Voltage_Limit", 160), ("Min_Voltage_Limit", 95), ("Temperature_Limit", 80),
           ("Velocity_Limit", 200))),
)}
MODELS_BY_NUMBER = {(m.family.is_dynamixel, m.number): m for m in MODELS.values()}


def model(name: str) -> Model:
    try:
        return MODELS[name.lower()]
    except KeyError:
        raise ServoConfigError(f"unknown servo model {name!r}; known: {', '.join(MODELS)}") from None
