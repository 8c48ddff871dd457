"""The servo-bus driver: Feetech STS/SCS or Dynamixel 2.0 servos of an arm profile, in raw register units (counts).

What it promises a control loop:
- every transaction starts by dropping stale input (reset_input_buffer), and one that follows a request whose
  replies may not all have come first reads on until they have, or the line goes quiet and a barrier read proves
  it clean (exchange.py): a late reply to an earlier call's request is never read as this call's (counted as
  late_replies, never returned), while one to this call's own earlier attempt is taken instead of asking again;
- each reply window is sized from the wire time (bytes x 10 / baud), the servos' return delay and a latency
  allowance for the host and the USB adapter, on a monotonic clock; retries stay inside the call's budget;
- a sync read where one servo's reply is missing or corrupt returns the others and marks that servo stale
  (SyncReading.fresh): a stale entry is never presented as new. One bad packet never raises;
- CRC/checksum failures, timeouts, retries and stale readings are counted per servo (`stats`);
- health (voltage, temperature, load, error bits) is read one servo at a time at a low rate, spread over sync
  reads, and surfaced as latched named conditions (`health.faults()`);
- EEPROM is written only by write_eeprom (Feetech: Lock cleared then restored; Dynamixel: torque must be off).

Lockstep (`lockstep=` a LockstepPeer: a simulated arm served in-process and stepped in simulated time): the bus
keeps the far end's pace instead of the wire's (lockstep.py): budgets become the liveness timeout, each window
closes when the far end's answer is all read, and health polls follow the simulation's clock, so what the host
reads does not depend on how busy the machine is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import dynamixel as dxl
from . import feetech as ft
from .arms import ArmProfile
from .errors import ServoConfigError, ServoProtocolError, ServoTimeout
from .exchange import Exchange
from .health import HealthMonitor, Telemetry
from .lockstep import LockstepPeer
from .port import SerialPort
from .readings import ServoStats, SyncReading
from .tables import Area, Register

# Registers read for health, by family (is_dynamixel): load, voltage (0.1 V), temperature (°C), error bits.
_HEALTH = {False: ("Present_Load", "Present_Voltage", "Present_Temperature", "Status"),
           True: ("Present_Current", "Present_Input_Voltage", "Present_Temperature", "Hardware_Error_Status")}


@dataclass(frozen=True)
class BusConfig:
    latency_s: float = 0.002  # host + USB adapter turnaround per reply window (FTDI: set latency_timer to 1 ms)
    budget_s: float = 0.010  # default time for one call, retries included
    max_retries: int = 2  # extra attempts per call, budget permitting
    health_period_s: float = 0.5  # each servo's health is read about this often
    return_delay_us: int | None = None  # the servos' Return_Delay_Time; None: the profile's
    lockstep_timeout_s: float = 2.0  # lockstep only: real seconds a simulated far end may take to answer

    def __post_init__(self):
        for name in ("latency_s", "budget_s", "health_period_s", "lockstep_timeout_s"):
            if not getattr(self, name) > 0:
                raise ServoConfigError(f"BusConfig.{name} must be > 0 s, got {getattr(self, name)!r}")
        if self.max_retries < 0:
            raise ServoConfigError(f"BusConfig.max_retries must be >= 0, got {self.max_retries!r}")


class ServoBus:
    def __init__(self, port: SerialPort, profile: ArmProfile, config: BusConfig = BusConfig(),
                 lockstep: LockstepPeer | None = None):
        self.profile, self.config, self._port, self.lockstep = profile, config, port, lockstep
        self.url = port.url  # what the bus was opened on, for messages
        self.table = profile.table
        self.dynamixel = profile.family.is_dynamixel
        self.codec = dxl if self.dynamixel else ft
        delay_us = profile.return_delay_us if config.return_delay_us is None else config.return_delay_us
        self._ids = profile.ids  # joint order (the profile computes it on each call)
        self._stats: dict[int, ServoStats] = {i: ServoStats() for i in profile.ids}
        self._exchange = Exchange(port, self.codec, port.baudrate, delay_us * 1e-6, config.latency_s, self._stats,
                                  profile.ids, lockstep, config.lockstep_timeout_s)
        self._clock = time.monotonic if lockstep is None else lockstep.clock  # health schedule and stamps
        self.health = HealthMonitor(profile)
        self._last: dict[str, dict[int, tuple[int, float]]] = {}  # register -> {id: (value, stamp_s)} last read
        self._packets: dict[tuple, bytes] = {}  # built sync-read packets
        self._next_health_s = self._clock() + config.health_period_s / len(profile.ids)
        self._health_turn = 0
        self._alerts: set[int] = set()  # Dynamixel servos whose alert bit asks for Hardware_Error_Status

    @classmethod
    def open(cls, url: str, profile: ArmProfile, config: BusConfig = BusConfig(), baudrate: int | None = None,
             lockstep: LockstepPeer | None = None):
        """Open any pyserial URL (/dev/ttyACM0, a pty path, socket://...) at the profile's baud."""
        return cls(SerialPort(url, baudrate or profile.baudrate), profile, config, lockstep)

    def close(self) -> None:
        self._port.close()

    def reopen(self) -> None:
        """Close the port and open it again (after a cable pull or a vanished adapter); ServoLinkError while it
        cannot be opened. Counters, health and the last readings are kept."""
        self._port.close()
        self._port = self._exchange.port = SerialPort(self.url, self._port.baudrate)

    def __enter__(self) -> "ServoBus":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sync read / write: the control path ---------------------------------------------------------------

    def sync_read(self, register: str, ids=None, budget_s: float | None = None) -> SyncReading:
        """`register` of every servo (default: the profile's, in joint order) in one call; see SyncReading."""
        reg = self.table[register]
        ids = self._ids if ids is None else tuple(ids)
        deadline = self._deadline(budget_s)
        self._exchange.begin_call()
        got: dict[int, tuple] = {}
        pending, attempt = ids, 0
        while pending and attempt <= self.config.max_retries:
            packet = self._sync_read_packet(reg, pending)
            if attempt and not self._exchange.worth_trying(len(packet), len(pending), reg.size, attempt, deadline):
                break
            for i in pending if attempt else ():
                self._stat(i).retries += 1
            if attempt == 0 and self.dynamixel and self.profile.fast_sync_read:
                got.update(self._exchange.run_fast(reg, pending, deadline))
            else:
                got.update(self._exchange.run(packet, pending, reg.size, deadline, attempt))
            pending = () if len(got) == len(ids) else tuple(i for i in ids if i not in got)
            attempt += 1
        reading = self._reading(register, reg, ids, got)
        self._maybe_poll_health(deadline)
        return reading

    def sync_write(self, register: str, values, ids=None, budget_s: float | None = None) -> bool:
        """One SYNC_WRITE (no reply) of `values` (raw, aligned with `ids`; default the profile's servos). Never
        sent while a reply may still be on the half-duplex line: the line is resynchronised first (within the
        budget) and, when it cannot be proved clean, nothing is sent and False returned (counted as
        withheld_writes; the servos keep their previous goal)."""
        reg = self._writable(register, Area.RAM)
        ids = self._ids if ids is None else tuple(ids)
        if len(values) != len(ids):
            raise ServoConfigError(f"sync_write {register}: {len(values)} values for {len(ids)} servos {list(ids)}")
        size, order = reg.size, self.table.byteorder
        try:
            items = [(i, reg.to_raw(int(v)).to_bytes(size, order)) for i, v in zip(ids, values)]
        except (ValueError, OverflowError, TypeError) as exc:
            raise ServoConfigError(f"sync_write {register}: bad value in {list(values)}: {exc}") from None
        self._exchange.begin_call()
        if not self._exchange.clear_line(self._deadline(budget_s)):
            self._exchange.link.withheld_writes += 1
            return False
        self._exchange.send(self.codec.sync_write(reg.address, size, items))  # no reply: nothing to flush for
        return True

    def read_positions(self, budget_s: float | None = None) -> SyncReading:
        return self.sync_read("Present_Position", budget_s=budget_s)

    def write_goals(self, counts, ids=None, budget_s: float | None = None) -> bool:
        return self.sync_write("Goal_Position", counts, ids, budget_s)

    # --- single servos ------------------------------------------------------------------------------------

    def ping(self, servo_id: int, budget_s: float | None = None) -> int | None:
        """The servo's model number, or None when it does not answer."""
        pkt = self._transact_one(servo_id, self.codec.ping(servo_id), 3 if self.dynamixel else 0, budget_s)
        if pkt is None:
            return None
        if self.dynamixel:
            return pkt.data[0] | pkt.data[1] << 8
        try:
            return self.read(servo_id, "Model_Number", budget_s)
        except ServoTimeout:
            return None

    def read(self, servo_id: int, register: str, budget_s: float | None = None) -> int:
        reg = self.table[register]
        pkt = self._transact_one(servo_id, self.codec.read(servo_id, reg.address, reg.size), reg.size, budget_s)
        self._require(pkt, servo_id, f"READ {register}", budget_s)
        return reg.from_raw(int.from_bytes(pkt.data, self.table.byteorder))

    def firmware(self, servo_id: int, budget_s: float | None = None) -> str:
        """The servo's firmware version as its vendor writes it: Feetech "major.minor", Dynamixel "N"."""
        if self.dynamixel:
            return str(self.read(servo_id, "Firmware_Version", budget_s))
        major = self.read(servo_id, "Firmware_Major_Version", budget_s)
        return f"{major}.{self.read(servo_id, 'Firmware_Minor_Version', budget_s)}"

    def write(self, servo_id: int, register: str, value: int, budget_s: float | None = None) -> None:
        """WRITE a RAM register and wait for the servo's acknowledgement."""
        reg = self._writable(register, Area.RAM)
        self._write_acked(servo_id, reg, self.table.encode(register, value), budget_s)

    def torque(self, enable: bool, ids=None, budget_s: float | None = None) -> None:
        """Torque_Enable on every servo (default all), each acknowledged; tries all, then raises naming failures."""
        failed = []
        for servo_id in self.profile.ids if ids is None else ids:
            try:
                self.write(servo_id, "Torque_Enable", int(bool(enable)), budget_s)
            except (ServoTimeout, ServoProtocolError) as exc:
                failed.append(str(exc))
        if failed:
            raise ServoTimeout(f"torque {'on' if enable else 'off'} not confirmed: " + "; ".join(failed))

    def write_eeprom(self, servo_id: int, register: str, value: int, budget_s: float = 0.1) -> None:
        """Calibration only: write an EEPROM register (Homing_Offset, limits, ...) and verify it reads back.
        Feetech: Lock is cleared for the write and restored after. Dynamixel: torque must already be off."""
        reg = self._writable(register, Area.EEPROM)
        data = self.table.encode(register, value)
        if self.dynamixel:
            if self.read(servo_id, "Torque_Enable", budget_s):
                raise ServoConfigError(f"{self._joint(servo_id)}: torque is on; Dynamixel EEPROM ({register}) is "
                                       f"writable only with torque off: call torque(False) first")
            self._write_acked(servo_id, reg, data, budget_s)
        else:
            lock = self.table["Lock"]
            previous = self.read(servo_id, "Lock", budget_s)
            self._write_acked(servo_id, lock, bytes(1), budget_s)
            try:
                self._write_acked(servo_id, reg, data, budget_s)
            finally:
                self._write_acked(servo_id, lock, bytes((previous,)), budget_s)
        back = self.read(servo_id, register, budget_s)
        if back != value:
            raise ServoProtocolError(f"{self._joint(servo_id)}: wrote {register} = {value}, it reads back {back}")

    # --- health and counters ------------------------------------------------------------------------------

    def poll_health(self, servo_id: int, budget_s: float | None = None) -> Telemetry | None:
        """Read one servo's load, voltage, temperature and error bits into `health`; None if it did not answer."""
        names = _HEALTH[self.dynamixel]
        in_block = names[:3] if self.dynamixel else names  # Dynamixel error bits sit far from the rest
        start, length = self.table.span(in_block)
        pkt = self._transact_one(servo_id, self.codec.read(servo_id, start, length), length, budget_s)
        if pkt is None:
            return None
        values = {}
        for name in in_block:
            reg = self.table[name]
            values[name] = self.table.decode(name, pkt.data[reg.address - start:reg.address - start + reg.size])
        if self.dynamixel:
            bits = self._transact_one(servo_id, self.codec.read(servo_id, self.table[names[3]].address, 1), 1,
                                      budget_s)
            if bits is None:
                return None
            values[names[3]] = bits.data[0]
            self._alerts.discard(servo_id)
        load, volts, temp, error_bits = (values[n] for n in names)
        t = Telemetry(temp, volts / 10, load, error_bits, self._clock())
        self.health.on_telemetry(servo_id, t)
        return t

    def stats(self) -> dict:
        return {"servos": {i: s.as_dict() for i, s in self._stats.items()},
                "link": self._exchange.link.as_dict(), "decoder": self._exchange.decoder.stats.as_dict()}

    def servo_stats(self, servo_id: int) -> ServoStats:
        return self._stat(servo_id)

    # --- internals ----------------------------------------------------------------------------------------

    def _stat(self, servo_id: int) -> ServoStats:
        return self._exchange.stat(servo_id)

    def _deadline(self, budget_s: float | None) -> float:
        """Monotonic end of a call; lockstep: the liveness timeout (the far end's answers decide, not the wire)."""
        if self.lockstep is not None:
            return time.monotonic() + self.config.lockstep_timeout_s
        return time.monotonic() + (budget_s or self.config.budget_s)

    def _joint(self, servo_id: int) -> str:
        name = next((s.name for s in self.profile.servos if s.id == servo_id), None)
        return f"{name} (ID {servo_id})" if name else f"ID {servo_id}"

    def _writable(self, register: str, area: Area) -> Register:
        reg = self.table[register]
        if not reg.writable:
            raise ServoConfigError(f"{register} is read-only")
        if reg.area is not area:
            other = "write_eeprom() (calibration)" if reg.area is Area.EEPROM else "write()"
            raise ServoConfigError(f"{register} is in {reg.area.value.upper()}: use {other}")
        return reg

    def _sync_read_packet(self, reg: Register, ids: tuple) -> bytes:
        key = (reg.address, reg.size, ids)
        packet = self._packets.get(key)
        if packet is None:
            packet = self._packets[key] = self.codec.sync_read(reg.address, reg.size, ids)
        return packet

    def _transact_one(self, servo_id: int, packet: bytes, data_len: int, budget_s: float | None):
        """One instruction to one servo, retried within the budget; the status packet or None."""
        deadline = self._deadline(budget_s)
        self._exchange.begin_call()
        for attempt in range(self.config.max_retries + 1):
            if attempt:
                if not self._exchange.worth_trying(len(packet), 1, data_len, attempt, deadline):
                    break
                self._stat(servo_id).retries += 1
            got = self._exchange.run(packet, (servo_id,), data_len, deadline, attempt)
            if got:
                pkt = got[servo_id][0]
                self._on_status(servo_id, pkt.error, got[servo_id][1])
                return pkt
        return None

    def _require(self, pkt, servo_id: int, what: str, budget_s: float | None) -> None:
        if pkt is None:
            budget_ms = 1e3 * (budget_s or self.config.budget_s)
            raise ServoTimeout(f"{self._joint(servo_id)}: no valid reply to {what} within {budget_ms:.1f} ms "
                               f"({self.config.max_retries + 1} attempts at most)")
        if self.dynamixel and pkt.error & 0x7F:
            raise ServoProtocolError(f"{self._joint(servo_id)}: {what} refused: "
                                     f"{', '.join(dxl.error_names(pkt.error))} (error byte 0x{pkt.error:02X})")

    def _write_acked(self, servo_id: int, reg: Register, data: bytes, budget_s: float | None) -> None:
        pkt = self._transact_one(servo_id, self.codec.write(servo_id, reg.address, data), 0, budget_s)
        self._require(pkt, servo_id, f"WRITE {reg.name}", budget_s)

    def _on_status(self, servo_id: int, error: int, stamp_s: float) -> None:
        if error:
            self._stat(servo_id).error_replies += 1
            if self.health.on_status(servo_id, error, stamp_s):
                self._alerts.add(servo_id)

    def _reading(self, register: str, reg: Register, ids: tuple, got: dict) -> SyncReading:
        order, from_raw = self.table.byteorder, reg.from_raw
        last = self._last.get(register)
        if last is None:
            last = self._last[register] = {}
        rows = []  # (value, fresh, stamp, error) per servo, made arrays once at the end (cheaper than item by item)
        for servo_id in ids:
            hit = got.get(servo_id)
            if hit is None:
                self._stat(servo_id).stale_readings += 1
                value, stamp = last.get(servo_id, (0, -np.inf))
                rows.append((value, False, stamp, 0))
                continue
            pkt, stamp = hit
            value, error = from_raw(int.from_bytes(pkt.data, order)), pkt.error
            last[servo_id] = (value, stamp)
            if error:
                self._on_status(servo_id, error, stamp)
            rows.append((value, True, stamp, error))
        values, fresh, stamps, errors = zip(*rows)
        return SyncReading(register, ids, np.array(values, np.int64), np.array(fresh, bool),
                           np.array(stamps, np.float64), np.array(errors, np.int64))

    def _maybe_poll_health(self, deadline_s: float) -> None:
        t_s = self._clock()
        if t_s < self._next_health_s:
            return
        ids = self._ids
        servo_id = min(self._alerts) if self._alerts else ids[self._health_turn % len(ids)]
        now = time.monotonic()
        if now + self._exchange.resync_s() + 2 * self._exchange.window_s(8, 1, 21) > deadline_s:
            return  # not this call: the budget is spent; the next call tries
        self._health_turn += 1
        self._next_health_s = t_s + self.config.health_period_s / len(ids)
        self.poll_health(servo_id, max(deadline_s - now, 1e-4))
