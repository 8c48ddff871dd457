"""One virtual servo: a register file laid out by its control table, a shaft that moves toward the goal at a bounded
speed while torque is on, and telemetry (position, velocity, load, voltage, temperature, error bits).

Pure logic with the time passed in (`now_s`, monotonic seconds): VirtualBus dispatches packets to it.

Where the manuals leave room, this servo chooses:
- Feetech: Present_Position = (shaft - Homing_Offset) mod 4096; an EEPROM write while Lock is 1 is not applied
  (counted in `eeprom_refused`); the status error byte carries the protection bits (voltage, overheat, overload).
- Dynamixel: Present_Position = shaft + Homing_Offset (multi-turn); an EEPROM write with torque on, or a write to
  a read-only or absent address, is refused with an ACCESS error; a hardware error turns torque off and sets the
  alert bit until REBOOT.
Torque on (0 -> 1) sets Goal_Position to Present_Position: the servo holds where it is, as real ones do.
A person's hand (`move_by_hand`) turns the shaft to any encoder position; with torque on the servo then drives
back toward its goal, as a real one fights a hand.
Speed: the model's no-load speed, or less when Goal_Velocity (Feetech) / Profile_Velocity (Dynamixel) asks.
With a `plant` (plant.py) the shaft is the plant's: goals and torque go to it, position, velocity and load come
from it, and move_by_hand has no effect (the plant's own physics places the shaft).
`registers` presets register values (e.g. Homing_Offset and limits left by an earlier calibration).
"""

from __future__ import annotations

from typing import NamedTuple

from . import dynamixel as dxl
from . import feetech as ft
from .plant import Plant
from .tables import Area, Model

_DXL_RPM_UNIT = 0.229  # Dynamixel velocity unit, rev/min
_OVERLOAD, _OVERHEAT, _VOLTAGE = (int(f) for f in (ft.StatusError.OVERLOAD, ft.StatusError.OVERHEAT,
                                                   ft.StatusError.VOLTAGE))  # Feetech Status bits, plain ints


class _Touch(NamedTuple):
    """What a WRITE to one address range touches."""
    refused: bool  # a read-only register (or, on a Dynamixel, no register at all)
    eeprom: bool
    torque: bool  # Torque_Enable (0 -> 1 holds where the shaft is)
    goal: bool  # Goal_Position
    offset: bool  # Homing_Offset (Present_Position moves with it)


class VirtualServo:
    def __init__(self, model: Model, servo_id: int, *, mode_value: int | None = None, position: int = 2048,
                 return_delay_us: int = 0, baud_index: int | None = None, now_s: float = 0.0,
                 plant: Plant | None = None, registers: dict[str, int] | None = None):
        self.model = model
        self.table = table = model.table
        self.dynamixel = model.family.is_dynamixel
        self.mem = bytearray(table.memory_size)
        self._regs, self._order = table.registers, table.byteorder  # get/_put go straight to these
        self._id_address = table["ID"].address
        self._status_address = None if self.dynamixel else table["Status"].address  # Feetech error bits, 1 byte
        self._touched: dict[tuple[int, int], _Touch] = {}  # (address, end) -> what a write there touches
        for reg in table.registers.values():
            self._put(reg.name, reg.default)
        for name, value in model.defaults:
            self._put(name, value)
        self._put("Model_Number", model.number)
        self._put("ID", servo_id)
        self._put("Return_Delay_Time", return_delay_us // 2)
        if baud_index is not None:
            self._put("Baud_Rate", baud_index)
        if mode_value is not None and "Operating_Mode" in table.registers:
            self._put("Operating_Mode", mode_value)
        for name, value in (registers or {}).items():
            self._put(name, value)
        voltage_name = "Present_Input_Voltage" if self.dynamixel else "Present_Voltage"
        self._voltage_reg = table[voltage_name]
        self._put(voltage_name, round(model.nominal_voltage_v * 10))
        self.shaft = float(position)  # counts, before the homing offset
        self.velocity = 0.0  # counts/s
        self._t = now_s
        self.overload = False  # injected; latched until REBOOT (Dynamixel) or clear_faults()
        self.hardware_error = 0  # Dynamixel Hardware_Error_Status
        self.pending: tuple[int, bytes] | None = None  # REG_WRITE until ACTION
        self.eeprom_writes = 0
        self.eeprom_refused = 0
        self.goal_writes = 0
        self.max_goal_jump = 0  # counts: the largest |new Goal_Position - Present_Position| written
        self.plant, self.plant_key, self._load = plant, servo_id, 0
        if plant is not None:
            self._from_plant(now_s)
            self._put("Goal_Position", self.get("Present_Position"))  # the servo starts holding where it is
        self._sync_goal()
        self._telemetry()

    # --- registers ----------------------------------------------------------------------------------------

    @property
    def id(self) -> int:
        return self.mem[self._id_address]

    def get(self, name: str) -> int:
        reg = self._regs.get(name) or self.table[name]  # table[name]: ServoConfigError naming an unknown register
        return reg.from_raw(int.from_bytes(self.mem[reg.address:reg.address + reg.size], self._order))

    def _put(self, name: str, value: int) -> None:
        reg = self._regs.get(name) or self.table[name]
        self.mem[reg.address:reg.address + reg.size] = reg.to_raw(int(value)).to_bytes(reg.size, self._order)

    def read(self, address: int, length: int, now_s: float) -> bytes | None:
        """Register bytes, or None if the range is outside the memory."""
        if address + length > len(self.mem):
            return None
        self.advance(now_s)
        return bytes(self.mem[address:address + length])

    def write(self, address: int, data: bytes, now_s: float) -> int:
        """Apply a WRITE; returns 0 or a Dynamixel ResultError (Feetech servos ignore what they refuse)."""
        self.advance(now_s)
        end = address + len(data)
        if end > len(self.mem) or not data:
            return dxl.ResultError.DATA_RANGE
        touch = self._touched.get((address, end)) or self._touch(address, end)
        if touch.refused:
            return dxl.ResultError.ACCESS
        if touch.eeprom:
            if self.dynamixel and self.get("Torque_Enable"):
                return dxl.ResultError.ACCESS
            if not self.dynamixel and self.get("Lock"):
                self.eeprom_refused += 1
                return 0
            self.eeprom_writes += 1
        torque_was = self.get("Torque_Enable") if touch.torque else 1
        self.mem[address:end] = data
        if touch.goal:
            self.goal_writes += 1
            self.max_goal_jump = max(self.max_goal_jump, abs(self.get("Goal_Position") - self.get("Present_Position")))
        if not torque_was and self.get("Torque_Enable"):
            self._put("Goal_Position", self.get("Present_Position"))  # torque on holds where the shaft is
            self.overload = self.overload and self.dynamixel  # Feetech: torque on clears overload protection
        self._sync_goal()
        if touch.offset:
            self._telemetry()  # a new Homing_Offset shows in Present_Position at once
        return 0

    def _touch(self, address: int, end: int) -> "_Touch":
        """What a write of [address, end) touches (kept per range: a sync write hits the same one every tick)."""
        regs = [r for r in self._regs.values() if r.address < end and address < r.address + r.size]
        names = {r.name for r in regs}
        touch = _Touch(any(not r.writable for r in regs) or (self.dynamixel and not regs),
                       any(r.area is Area.EEPROM for r in regs), "Torque_Enable" in names,
                       "Goal_Position" in names, "Homing_Offset" in names)
        self._touched[(address, end)] = touch
        return touch

    def move_by_hand(self, shaft_counts: float, now_s: float) -> None:
        """Turn the shaft to an encoder position (counts before the homing offset; Feetech wraps it at one turn)."""
        self.advance(now_s)
        self.shaft = float(shaft_counts)
        self.velocity = 0.0
        self._telemetry()

    def reboot(self) -> None:
        self.hardware_error = 0
        self.overload = False
        self._put("Torque_Enable", 0)

    # --- status -------------------------------------------------------------------------------------------

    def error_byte(self) -> int:
        self._refresh_faults()
        if self.dynamixel:
            return dxl.ALERT if self.hardware_error else 0
        return self.mem[self._status_address]

    def _refresh_faults(self) -> None:
        get = self.get
        temp = get("Present_Temperature")
        volts = self.mem[self._voltage_reg.address]
        if self.dynamixel:
            bits = self.hardware_error
            bits |= dxl.HardwareError.OVERLOAD if self.overload else 0
            bits |= dxl.HardwareError.OVERHEATING if temp > self.get("Temperature_Limit") else 0
            if not self.get("Min_Voltage_Limit") <= volts <= self.get("Max_Voltage_Limit"):
                bits |= dxl.HardwareError.INPUT_VOLTAGE
            if bits & self.get("Shutdown"):
                self._put("Torque_Enable", 0)
            self.hardware_error = int(bits)
            self._put("Hardware_Error_Status", self.hardware_error)
        else:
            bits = _OVERLOAD if self.overload else 0
            bits |= _OVERHEAT if temp > get("Max_Temperature_Limit") else 0
            if not get("Min_Voltage_Limit") <= volts <= get("Max_Voltage_Limit"):
                bits |= _VOLTAGE
            self.mem[self._status_address] = bits

    # --- motion -------------------------------------------------------------------------------------------

    def _sync_goal(self) -> None:
        goal = self.get("Goal_Position")
        lo, hi = self.get("Min_Position_Limit"), self.get("Max_Position_Limit")
        if self.dynamixel:
            if self.get("Operating_Mode") == 3:  # position mode: limits apply; extended modes: multi-turn
                goal = min(max(goal, lo), hi)
            self._target = float(goal - self.get("Homing_Offset"))
            profile = self.get("Profile_Velocity") * _DXL_RPM_UNIT * self.model.counts_per_turn / 60
        else:
            if hi > lo:
                goal = min(max(goal, lo), hi)
            self._target = float((goal + self.get("Homing_Offset")) % self.model.counts_per_turn)
            profile = abs(self.get("Goal_Velocity"))
        self._speed = min(profile, self.model.max_speed_counts_s) if profile > 0 else self.model.max_speed_counts_s
        if self.plant is not None:
            self.plant.command(self.plant_key, self._target, bool(self.get("Torque_Enable")), self._speed)

    def hold(self, now_s: float) -> None:
        """Goal_Position := Present_Position (after the shaft was moved from outside, e.g. a simulation reset)."""
        self.advance(now_s)
        self._put("Goal_Position", self.get("Present_Position"))
        self._sync_goal()

    def _from_plant(self, now_s: float) -> None:
        self.plant.advance(now_s)
        self._t = max(self._t, now_s)
        state = self.plant.state(self.plant_key)
        self.shaft, self.velocity, self._load = float(state.counts), float(state.velocity_counts_s), \
            int(max(-1000, min(1000, state.load_permille)))
        self._telemetry()

    def advance(self, now_s: float) -> None:
        if self.plant is not None:
            self._from_plant(now_s)
            return
        dt = now_s - self._t
        if dt <= 0:
            return
        self._t = now_s
        error = self._target - self.shaft
        if self.get("Torque_Enable") and error:
            step = min(abs(error), self._speed * dt)
            self.shaft += step if error > 0 else -step
            self.velocity = (step if error > 0 else -step) / dt
        else:
            self.velocity = 0.0
        self._telemetry()

    def _telemetry(self) -> None:
        moving = abs(self.velocity) > 1.0
        if self.overload:
            load = -1000 if self.velocity < 0 else 1000
        elif self.plant is not None:
            load = self._load  # the plant's torque, signed
        else:
            load = min(1000, round(40 + 600 * abs(self.velocity) / self.model.max_speed_counts_s))
            load = -load if self.velocity < 0 else load
        if self.dynamixel:
            self._put("Present_Position", round(self.shaft) + self.get("Homing_Offset"))
            unit = _DXL_RPM_UNIT * self.model.counts_per_turn / 60
            self._put("Present_Velocity", round(self.velocity / unit))
            self._put("Present_Current", load)
            self._put("Moving", int(moving))
            self._put("Realtime_Tick", round(self._t * 1000) % 32768)
        else:
            put, turn = self._put, self.model.counts_per_turn
            put("Present_Position", round(self.shaft - self.get("Homing_Offset")) % turn)
            put("Present_Velocity", round(self.velocity))
            put("Present_Load", load)
            put("Moving", int(moving))
