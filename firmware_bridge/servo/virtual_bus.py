"""A virtual servo bus: the servos of an arm profile answering every instruction byte for byte, with faults
injected on request. Pure logic: `handle(bytes_in, now_s) -> bytes_out`; `serve.py` puts it on a pty.

Instructions answered: PING (broadcast too), READ, WRITE, REG_WRITE, ACTION, SYNC_READ (each listed servo answers
with its own status packet, in the listed order), SYNC_WRITE (no reply); Dynamixel also FAST_SYNC_READ (one
combined packet) and REBOOT. Nothing sent to the broadcast ID gets a reply except PING and the sync reads; a
Feetech servo whose Response_Status_Level is 0 (Dynamixel: Status_Return_Level below 2) answers only PING/READ.

Faults (`Faults`, changeable while serving; all drawn from one seeded generator):
- drop_rate: a status packet is not sent (a missing reply);
- corrupt_rate: a status packet's last checksum/CRC byte is altered (a corrupt checksum);
- stray_rate: 1-8 garbage bytes (half the time starting like a header) come before a reply;
- delay_rate / delay_s: a reply leaves delay_s late (the whole answer to that instruction is held, and the bus
  reads no further instruction meanwhile, as a bus answers in order): a host that gave up on it may read it as the
  answer to its next request;
- ids: when given, the rates above hit only these servos' replies;
- vanish(id): the servo neither answers nor obeys until restore(id);
- set_overload(id) / set_temperature(id, c) / set_voltage(id, v): the servo's own error bits follow;
- add_duplicate(id): a second servo answers to the same ID; the two replies collide on the wire (byte-wise AND,
  as two drivers on an idle-high line), so they pass only when both servos would send the same bytes.
In a FAST_SYNC_READ a dropped block ends the combined packet there (the servos after it had nothing to follow).
A person's hand: move_by_hand(id, counts) turns a servo's shaft (virtual_hand.py scripts whole poses and sweeps).

A plant (plant.py: e.g. a physics simulation of the arm) may move the shafts instead of the servos' own motion:
`VirtualBus(profile, plant=p, registers={id: {"Homing_Offset": ...}})`; everything on the wire, faults included,
stays the bus's. After the plant was moved from outside (a new episode), `hold(now_s)` makes every servo's goal
its present position.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from . import dynamixel as dxl
from . import feetech as ft
from .arms import ArmProfile
from .plant import Plant
from .tables import MODE_VALUES
from .virtual_servo import VirtualServo


@dataclass
class Faults:
    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    stray_rate: float = 0.0
    seed: int | None = None
    ids: frozenset[int] | None = None  # the rates hit only these servos' replies; None: every servo's
    delay_rate: float = 0.0
    delay_s: float = 0.0  # how late a delayed reply leaves, s

    def __post_init__(self):
        for name in ("drop_rate", "corrupt_rate", "stray_rate", "delay_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        if not 0.0 <= self.delay_s <= 10.0:
            raise ValueError(f"delay_s must be 0..10 s, got {self.delay_s!r}")


class BusStats:
    __slots__ = ("instructions", "replies", "dropped", "corrupted", "stray", "delayed", "collisions")

    def __init__(self):
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


class VirtualBus:
    def __init__(self, profile: ArmProfile, faults: Faults | None = None, positions: dict[int, int] | None = None,
                 now_s: float = 0.0, plant: Plant | None = None, registers: dict[int, dict[str, int]] | None = None):
        self.profile = profile
        self.dynamixel = profile.family.is_dynamixel
        self.codec = dxl if self.dynamixel else ft
        self.faults = faults or Faults()
        self._rng = random.Random(self.faults.seed)
        self._decoder = self.codec.Decoder()
        self.stats = BusStats()
        self.servos: list[VirtualServo] = []
        self.vanished: set[int] = set()
        self._hold_s = 0.0  # extra delay of the answer being built (delay faults)
        self.plant, self._registers = plant, registers or {}
        positions = positions or {}
        for spec in profile.servos:
            self.servos.append(self._make(spec, positions.get(spec.id, spec.model.counts_per_turn // 2), now_s))

    def _make(self, spec, position: int, now_s: float) -> VirtualServo:
        return VirtualServo(spec.model, spec.id, mode_value=MODE_VALUES[self.profile.family][spec.mode],
                            position=position, return_delay_us=self.profile.return_delay_us, now_s=now_s,
                            plant=self.plant, registers=self._registers.get(spec.id))

    # --- fault controls -----------------------------------------------------------------------------------

    def servo(self, servo_id: int) -> VirtualServo:
        for s in self.servos:
            if s.id == servo_id:
                return s
        raise KeyError(f"no virtual servo with ID {servo_id}; IDs {[s.id for s in self.servos]}")

    def vanish(self, servo_id: int) -> None:
        self.servo(servo_id)
        self.vanished.add(servo_id)

    def restore(self, servo_id: int) -> None:
        self.vanished.discard(servo_id)

    def hold(self, now_s: float) -> None:
        """Every servo's Goal_Position := its Present_Position (the plant was moved from outside)."""
        for s in self.servos:
            s.hold(now_s)

    def move_by_hand(self, servo_id: int, shaft_counts: float, now_s: float) -> None:
        """A person turns a servo (see VirtualServo.move_by_hand); a twin on the same ID turns with it."""
        self.servo(servo_id)
        for s in self.servos:
            if s.id == servo_id:
                s.move_by_hand(shaft_counts, now_s)

    def set_overload(self, servo_id: int, on: bool = True) -> None:
        self.servo(servo_id).overload = on

    def set_temperature(self, servo_id: int, celsius: int) -> None:
        self.servo(servo_id)._put("Present_Temperature", int(celsius))

    def set_voltage(self, servo_id: int, volts: float) -> None:
        s = self.servo(servo_id)
        s._put(s._voltage_reg.name, round(volts * 10))

    def add_duplicate(self, servo_id: int, now_s: float = 0.0) -> VirtualServo:
        spec = self.profile.servo(servo_id)
        twin = self._make(spec, spec.model.counts_per_turn // 4, now_s)  # same ID, another shaft angle
        self.servos.append(twin)
        return twin

    def report(self) -> dict:
        """What was injected and what each servo was told (for benchmarks and users checking a host)."""
        return {"bus": self.stats.as_dict(),
                "servos": {s.id: {"goal_writes": s.goal_writes, "max_goal_jump_counts": s.max_goal_jump,
                                  "eeprom_writes": s.eeprom_writes, "eeprom_refused": s.eeprom_refused}
                           for s in self.servos}}

    # --- the bus ------------------------------------------------------------------------------------------

    def take_hold_s(self) -> float:
        """How long the answer last returned by handle() must be held back (a delay fault), then 0 again."""
        hold, self._hold_s = self._hold_s, 0.0
        return hold

    def handle(self, data: bytes, now_s: float) -> bytes:
        """Every reply to the instruction packets completed by `data`, in wire order (see take_hold_s)."""
        out = bytearray()
        for pkt in self._decoder.feed(data):
            self.stats.instructions += 1
            out += self._dispatch(pkt, now_s)
        return bytes(out)

    def _present(self, servo_id: int) -> list[VirtualServo]:
        if servo_id in self.vanished:
            return []
        if servo_id == self.codec.BROADCAST_ID:
            return list(self.servos)
        return [s for s in self.servos if s.id == servo_id]

    def _dispatch(self, pkt, now_s: float) -> bytes:
        inst, p, wide = pkt[1], pkt.params, 2 if self.dynamixel else 1
        codes = self.codec.Instruction
        u = (lambda at: p[at] | p[at + 1] << 8) if wide == 2 else (lambda at: p[at])
        broadcast = pkt.id == self.codec.BROADCAST_ID
        if inst == codes.PING:
            return b"".join(self._reply(pkt.id, lambda s: self._ping_data(s), always=True))
        if inst == codes.READ and len(p) == 2 * wide and not broadcast:
            return b"".join(self._reply(pkt.id, lambda s: s.read(u(0), u(wide), now_s), always=True))
        if inst in (codes.WRITE, codes.REG_WRITE) and len(p) > wide:
            address, payload = u(0), p[wide:]
            if inst == codes.WRITE:
                results = {s.id: s.write(address, payload, now_s) for s in self._present(pkt.id)}
            else:
                results = {}
                for s in self._present(pkt.id):
                    s.pending = (address, payload)
            return b"" if broadcast else b"".join(self._reply(pkt.id, lambda s: results.get(s.id, 0)))
        if inst == codes.ACTION:
            for s in self._present(pkt.id):
                if s.pending:
                    s.write(*s.pending, now_s)
                    s.pending = None
            return b"" if broadcast else b"".join(self._reply(pkt.id, lambda s: 0))
        if inst in (codes.SYNC_READ, getattr(codes, "FAST_SYNC_READ", -1)) and len(p) >= 2 * wide:
            address, length, ids = u(0), u(wide), p[2 * wide:]
            if inst == codes.SYNC_READ:
                return b"".join(b"".join(self._reply(i, lambda s: s.read(address, length, now_s), always=True))
                                for i in ids)
            return self._fast_sync_read(address, length, ids, now_s)
        if inst == codes.SYNC_WRITE and len(p) >= 2 * wide:
            self._sync_write(u(0), u(wide), p[2 * wide:], now_s)
            return b""
        if self.dynamixel and inst == dxl.Instruction.REBOOT:
            for s in self._present(pkt.id):
                s.reboot()
            return b"" if broadcast else b"".join(self._reply(pkt.id, lambda s: 0))
        if self.dynamixel and not broadcast:  # unknown instruction or bad parameter length
            error = dxl.ResultError.INSTRUCTION if inst not in set(codes) else dxl.ResultError.DATA_LENGTH
            return b"".join(self._reply(pkt.id, lambda s: int(error), always=True))
        return b""

    def _ping_data(self, s: VirtualServo) -> bytes:
        if self.dynamixel:
            return s.model.number.to_bytes(2, "little") + bytes((s.get("Firmware_Version"),))
        return b""

    def _reply(self, servo_id: int, answer, always: bool = False) -> list[bytes]:
        """Status packets of the servos at servo_id (in ID order for a broadcast); answer(servo) gives the data
        (bytes), a Dynamixel result error (int) or None (outside the memory)."""
        by_id: dict[int, list[bytes]] = {}
        present = self._present(servo_id)
        for s in sorted(present, key=lambda s: s.id) if len(present) > 1 else present:
            if not always and not self._answers_writes(s):
                continue
            result = answer(s)
            if isinstance(result, bytes):
                packet = self.codec.status(s.id, s.error_byte(), result)
            elif self.dynamixel:
                packet = self.codec.status(s.id, s.error_byte() | (result if result is not None else
                                                                     dxl.ResultError.ACCESS))
            else:
                packet = self.codec.status(s.id, s.error_byte()) if result is not None else b""
            by_id.setdefault(s.id, []).append(packet)
        return [self._emit(self._collide(packets), i) for i, packets in by_id.items()]

    def _answers_writes(self, s: VirtualServo) -> bool:
        if self.dynamixel:
            return s.get("Status_Return_Level") >= 2
        return s.get("Response_Status_Level") >= 1

    def _collide(self, packets: list[bytes]) -> bytes:
        if len(packets) == 1:
            return packets[0]
        self.stats.collisions += 1
        size = max(len(p) for p in packets)
        merged = bytearray(b"\xff" * size)
        for p in packets:
            for i, byte in enumerate(p):
                merged[i] &= byte
        return bytes(merged)

    def _emit(self, packet: bytes, servo_id: int) -> bytes:
        faults, rng = self.faults, self._rng
        if not packet:
            return b""
        if faults.ids is not None and servo_id not in faults.ids:
            self.stats.replies += 1
            return packet
        if faults.drop_rate and rng.random() < faults.drop_rate:
            self.stats.dropped += 1
            return b""
        if faults.corrupt_rate and rng.random() < faults.corrupt_rate:
            self.stats.corrupted += 1
            packet = packet[:-1] + bytes((packet[-1] ^ rng.randrange(1, 256),))
        if faults.stray_rate and rng.random() < faults.stray_rate:
            self.stats.stray += 1
            junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 9)))
            packet = (b"\xff\xff" + junk if rng.random() < 0.5 else junk) + packet
        if faults.delay_rate and rng.random() < faults.delay_rate:
            self.stats.delayed += 1
            self._hold_s = max(self._hold_s, faults.delay_s)
        self.stats.replies += 1
        return packet

    def _fast_sync_read(self, address: int, length: int, ids: bytes, now_s: float) -> bytes:
        blocks = []
        for servo_id in ids:
            present = self._present(servo_id)
            hit = self.faults.ids is None or servo_id in self.faults.ids
            if not present or (hit and self.faults.drop_rate and self._rng.random() < self.faults.drop_rate):
                self.stats.dropped += bool(present)
                break
            s = present[0]
            blocks.append((s.id, s.error_byte(), s.read(address, length, now_s) or bytes(length)))
        if not blocks:
            return b""
        packet = dxl.fast_sync_read_status(blocks)
        if len(blocks) < len(ids):
            return packet[:-2]  # the chain broke: the last CRC never came
        return self._emit(packet, blocks[-1][0])

    def _sync_write(self, address: int, length: int, body: bytes, now_s: float) -> None:
        step = length + 1
        for at in range(0, len(body) - length, step):
            for s in self._present(body[at]):
                s.write(address, body[at + 1:at + step], now_s)
