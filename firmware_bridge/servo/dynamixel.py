"""Dynamixel Protocol 2.0 packets as a pure codec.

    FF FF FD 00 | ID | LEN_L LEN_H | INST | P0 .. Pn-1 | CRC_L CRC_H

LEN counts INST, the (stuffed) parameters and the CRC. CRC-16, polynomial 0x8005, MSB first, initial value 0,
over every byte before the CRC. Byte stuffing: inside INST + parameters each `FF FF FD` is sent as `FF FF FD FD`
(so a header never appears inside a body), and LEN and CRC are those of the stuffed bytes. A status packet has
INST 0x55 and starts its parameters with an error byte.

FAST_SYNC_READ (0x8A) is answered by one status packet from ID 0xFE holding a block per servo, `ERR ID DATA CRC`,
unstuffed, each block's CRC being that of the whole packet up to it (the last block's CRC is the packet's CRC).
"""

from __future__ import annotations

import enum
from typing import Iterable, NamedTuple

from .errors import ServoConfigError
from .fields import checked, sync_write_body
from .stream import StreamDecoder

BROADCAST_ID = 0xFE
HEADER = b"\xff\xff\xfd\x00"
MAX_LEN = 1017  # the vendor SDK's 1024-byte packet buffer less the 7 header bytes
STATUS_OVERHEAD = 11  # header 4, ID, LEN 2, INST, ERR, CRC 2 around a status packet's data
_STUFF_FROM, _STUFF_TO = b"\xff\xff\xfd", b"\xff\xff\xfd\xfd"


class Instruction(enum.IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    REBOOT = 0x08
    STATUS = 0x55
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83
    FAST_SYNC_READ = 0x8A


class ResultError(enum.IntEnum):
    """The low 7 bits of a status packet's error byte: why an instruction was not carried out."""
    NONE = 0
    RESULT_FAIL = 1
    INSTRUCTION = 2
    CRC = 3
    DATA_RANGE = 4
    DATA_LENGTH = 5
    DATA_LIMIT = 6
    ACCESS = 7


ALERT = 0x80  # error byte bit 7: the servo has a hardware error (read Hardware_Error_Status)


class HardwareError(enum.IntFlag):
    """Hardware_Error_Status (X series, address 70). Torque goes off while any of these is set."""
    INPUT_VOLTAGE = 0x01
    OVERHEATING = 0x04
    MOTOR_ENCODER = 0x08
    ELECTRICAL_SHOCK = 0x10
    OVERLOAD = 0x20


def error_names(error: int) -> tuple[str, ...]:
    """Names in a status error byte, e.g. ('alert', 'access')."""
    names = ["alert"] if error & ALERT else []
    code = error & 0x7F
    if code:
        names.append(ResultError(code).name.lower() if code <= 7 else f"error{code}")
    return tuple(names)


def hardware_error_names(bits: int) -> tuple[str, ...]:
    return tuple(flag.name.lower() for flag in HardwareError if bits & flag)


def _make_crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x8005 if crc & 0x8000 else crc << 1
        table.append(crc & 0xFFFF)
    return table


_CRC_TABLE = _make_crc_table()


def crc16(data: bytes, crc: int = 0) -> int:
    """CRC-16/BUYPASS (poly 0x8005, init 0, not reflected); `crc` continues a previous result."""
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) ^ table[((crc >> 8) ^ byte) & 0xFF]) & 0xFFFF
    return crc


def stuff(body: bytes) -> bytes:
    """INST + parameters as sent: every FF FF FD followed by an extra FD (the pattern cannot overlap itself)."""
    return bytes(body).replace(_STUFF_FROM, _STUFF_TO)


def unstuff(body: bytes) -> bytes:
    """Invert stuff(): every FF FF FD FD back to FF FF FD."""
    return bytes(body).replace(_STUFF_TO, _STUFF_FROM)


class Packet(NamedTuple):
    """One CRC-checked frame, parameters unstuffed. For a status packet, `error` and `data` split the parameters."""
    id: int
    instruction: int
    params: bytes

    @property
    def error(self) -> int:
        return self.params[0] if self.instruction == Instruction.STATUS and self.params else 0

    @property
    def data(self) -> bytes:
        return self.params[1:] if self.instruction == Instruction.STATUS else self.params


# --- building frames ---------------------------------------------------------------------------------------

def _u16(value: int, what: str) -> bytes:
    return checked(value, what, 0xFFFF).to_bytes(2, "little")


def _frame(servo_id: int, body: bytes) -> bytes:
    length = len(body) + 2
    if length > MAX_LEN:
        raise ServoConfigError(f"a {length}-byte body does not fit one Dynamixel packet (LEN at most {MAX_LEN})")
    head = HEADER + bytes((checked(servo_id, "servo ID", BROADCAST_ID), length & 0xFF, length >> 8))
    crc = crc16(body, crc16(head))
    return head + body + bytes((crc & 0xFF, crc >> 8))


def packet(servo_id: int, instruction: int, params: bytes = b"") -> bytes:
    """One frame: header, ID, LEN, INST, stuffed params, CRC."""
    return _frame(servo_id, stuff(bytes((checked(instruction, "instruction", 0xFF),)) + bytes(params)))


def ping(servo_id: int) -> bytes:
    return packet(servo_id, Instruction.PING)


def read(servo_id: int, address: int, length: int) -> bytes:
    return packet(servo_id, Instruction.READ, _u16(address, "address") + _u16(length, "length"))


def write(servo_id: int, address: int, data: bytes) -> bytes:
    return packet(servo_id, Instruction.WRITE, _u16(address, "address") + bytes(data))


def reg_write(servo_id: int, address: int, data: bytes) -> bytes:
    return packet(servo_id, Instruction.REG_WRITE, _u16(address, "address") + bytes(data))


def action(servo_id: int = BROADCAST_ID) -> bytes:
    return packet(servo_id, Instruction.ACTION)


def sync_read(address: int, length: int, ids: Iterable[int], fast: bool = False) -> bytes:
    """SYNC_READ (each servo answers with its own status packet) or FAST_SYNC_READ (one packet, see module doc)."""
    ids = bytes(checked(i, "servo ID", BROADCAST_ID - 1) for i in ids)
    inst = Instruction.FAST_SYNC_READ if fast else Instruction.SYNC_READ
    return packet(BROADCAST_ID, inst, _u16(address, "address") + _u16(length, "length") + ids)


def sync_write(address: int, length: int, items: Iterable[tuple[int, bytes]]) -> bytes:
    """items: (servo ID, `length` bytes) pairs."""
    head = _u16(address, "address") + _u16(length, "length")
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, sync_write_body(head, length, items))


def status(servo_id: int, error: int = 0, data: bytes = b"") -> bytes:
    return packet(servo_id, Instruction.STATUS, bytes((checked(error, "error", 0xFF),)) + bytes(data))


def status_size(n_data: int) -> int:
    """Bytes on the wire of one status packet carrying n_data bytes (before any stuffing)."""
    return STATUS_OVERHEAD + n_data


class FastBlock(NamedTuple):
    id: int
    error: int
    data: bytes


def fast_sync_read_status(blocks: Iterable[tuple[int, int, bytes]]) -> bytes:
    """The FAST_SYNC_READ reply the listed servos build together: blocks of (ID, error, data), in order."""
    blocks = list(blocks)
    length = 1 + sum(4 + len(data) for _, _, data in blocks)
    out = bytearray(HEADER + bytes((BROADCAST_ID, length & 0xFF, length >> 8, Instruction.STATUS)))
    for servo_id, error, data in blocks:
        out += bytes((checked(error, "error", 0xFF), checked(servo_id, "servo ID", BROADCAST_ID - 1))) + bytes(data)
        crc = crc16(out)
        out += bytes((crc & 0xFF, crc >> 8))
    return bytes(out)


def parse_fast_sync_read(pkt: Packet, length: int) -> list[FastBlock]:
    """Split a CRC-checked FAST_SYNC_READ reply into its blocks of `length` data bytes. A block whose own CRC fails
    ends the list (the servos after it built on wrong bytes); an empty list if the packet is not such a reply."""
    params, step = pkt.params, length + 4
    if pkt.id != BROADCAST_ID or pkt.instruction != Instruction.STATUS or (len(params) + 2) % step:
        return []
    n = (len(params) + 2) // step
    crc = crc16(HEADER + bytes((BROADCAST_ID, (len(params) + 3) & 0xFF, (len(params) + 3) >> 8,
                                Instruction.STATUS)))
    blocks, offset = [], 0
    for k in range(n):
        crc = crc16(params[offset:offset + 2 + length], crc)
        if k < n - 1:
            if params[offset + 2 + length] | params[offset + 3 + length] << 8 != crc:
                break
            crc = crc16(params[offset + 2 + length:offset + step], crc)
        blocks.append(FastBlock(params[offset + 1], params[offset], params[offset + 2:offset + 2 + length]))
        offset += step
    return blocks


def encode(pkt: Packet) -> bytes:
    """The wire bytes of a decoded packet (a FAST_SYNC_READ reply stays unstuffed)."""
    if _fast_reply(pkt.id, pkt.instruction):
        return _frame(pkt.id, bytes((pkt.instruction,)) + pkt.params)
    return packet(pkt.id, pkt.instruction, pkt.params)


def _fast_reply(servo_id: int, instruction: int) -> bool:
    return servo_id == BROADCAST_ID and instruction == Instruction.STATUS  # sent unstuffed


# --- streaming decoder ---------------------------------------------------------------------------------------

class Decoder(StreamDecoder):
    """Protocol 2.0 frames from any byte stream; see StreamDecoder for the guarantees. LEN values given to
    expect() are those on the wire (stuffing included)."""

    HEADER = HEADER
    HEAD_SIZE = 7  # FF FF FD 00 ID LEN_L LEN_H
    ID_OFFSET = 4

    def _length(self, buf: bytearray) -> int:
        length = buf[5] | buf[6] << 8
        return length if buf[4] != 0xFF and 3 <= length <= MAX_LEN else -1

    def _end(self, length: int) -> int:
        return 7 + length

    def _checked(self, buf: bytearray, end: int) -> bool:
        if crc16(buf[:end - 2]) != buf[end - 2] | buf[end - 1] << 8:
            return False
        body = bytes(buf[7:end - 2])  # a body with an FF FF FD not followed by FD was never stuffed: not a frame
        return _STUFF_FROM not in body or _fast_reply(buf[4], buf[7]) or stuff(unstuff(body)) == body

    def _packet(self, buf: bytearray, end: int) -> Packet:
        servo_id, inst = buf[4], buf[7]
        params = bytes(buf[8:end - 2])
        if not _fast_reply(servo_id, inst):
            params = unstuff(params)
        return Packet(servo_id, inst, params)
