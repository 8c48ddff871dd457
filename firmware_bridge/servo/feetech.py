"""Feetech STS/SMS (protocol 0, little-endian) and SCS (protocol 1, big-endian) packets as a pure codec.

One frame shape in both directions (no I/O here, so it is tested with bytes alone and fuzzed):

    FF FF | ID | LEN | CODE | P0 .. Pn-1 | CHK        LEN = n + 2,  CHK = ~(ID + LEN + CODE + ΣP) & 0xFF

Host -> servo, CODE is the instruction; servo -> host (a status packet), CODE is the servo's error bits. SYNC_READ
makes every listed servo answer with its own status packet, in the listed order; SYNC_WRITE and anything sent to
the broadcast ID 0xFE get no reply. Endianness only concerns multi-byte register values (tables.py): the framing
is the same for STS/SMS and SCS.
"""

from __future__ import annotations

import enum
import functools
import struct
from typing import Iterable, NamedTuple

from .errors import ServoConfigError
from .fields import checked, sync_write_body
from .stream import StreamDecoder

BROADCAST_ID = 0xFE
HEADER = b"\xff\xff"
MAX_LEN = 246  # LEN field: the vendor SDK's 250-byte packet buffer less header, ID and LEN
STATUS_OVERHEAD = 6  # FF FF ID LEN ERR CHK around a status packet's data


class Instruction(enum.IntEnum):
    PING = 0x01
    READ = 0x02
    WRITE = 0x03
    REG_WRITE = 0x04
    ACTION = 0x05
    SYNC_READ = 0x82
    SYNC_WRITE = 0x83


class StatusError(enum.IntFlag):
    """The error byte of a status packet (the servo's protection flags)."""
    VOLTAGE = 0x01
    ANGLE = 0x02  # angle sensor
    OVERHEAT = 0x04
    OVERCURRENT = 0x08
    OVERLOAD = 0x20


_KNOWN_ERRORS = sum(int(f) for f in StatusError)


def error_names(bits: int) -> tuple[str, ...]:
    """Names of the set error bits, e.g. ('overheat', 'overload'); unknown bits as 'bit6'."""
    names = [flag.name.lower() for flag in StatusError if bits & flag]
    unknown = bits & ~_KNOWN_ERRORS
    return tuple(names + [f"bit{i}" for i in range(8) if unknown & (1 << i)])


class Packet(NamedTuple):
    """One checked frame. For a status packet `error` is CODE and `data` the parameters."""
    id: int
    code: int
    params: bytes

    @property
    def error(self) -> int:
        return self.code

    @property
    def data(self) -> bytes:
        return self.params


# --- building frames ---------------------------------------------------------------------------------------

def _byte(value: int, what: str, hi: int = 0xFF) -> int:
    return checked(value, what, hi)


def packet(servo_id: int, code: int, params: bytes = b"") -> bytes:
    """One frame: FF FF ID LEN CODE params CHK."""
    if len(params) > MAX_LEN - 2:
        raise ServoConfigError(f"{len(params)} parameter bytes do not fit one Feetech packet (at most {MAX_LEN - 2})")
    body = bytes((_byte(servo_id, "servo ID", BROADCAST_ID), len(params) + 2, _byte(code, "code"))) + bytes(params)
    return HEADER + body + bytes(((~sum(body)) & 0xFF,))


def ping(servo_id: int) -> bytes:
    return packet(servo_id, Instruction.PING)


def read(servo_id: int, address: int, length: int) -> bytes:
    return packet(servo_id, Instruction.READ, bytes((_byte(address, "address"), _byte(length, "length"))))


def write(servo_id: int, address: int, data: bytes) -> bytes:
    return packet(servo_id, Instruction.WRITE, bytes((_byte(address, "address"),)) + bytes(data))


def reg_write(servo_id: int, address: int, data: bytes) -> bytes:
    """Stored by the servo until ACTION."""
    return packet(servo_id, Instruction.REG_WRITE, bytes((_byte(address, "address"),)) + bytes(data))


def action(servo_id: int = BROADCAST_ID) -> bytes:
    return packet(servo_id, Instruction.ACTION)


def sync_read(address: int, length: int, ids: Iterable[int]) -> bytes:
    ids = bytes(_byte(i, "servo ID", BROADCAST_ID - 1) for i in ids)
    return packet(BROADCAST_ID, Instruction.SYNC_READ, bytes((_byte(address, "address"), _byte(length, "length"))) + ids)


def sync_write(address: int, length: int, items: Iterable[tuple[int, bytes]]) -> bytes:
    """items: (servo ID, `length` bytes) pairs."""
    head = bytes((_byte(address, "address"), _byte(length, "length")))
    return packet(BROADCAST_ID, Instruction.SYNC_WRITE, sync_write_body(head, length, items))


def status(servo_id: int, error: int = 0, data: bytes = b"") -> bytes:
    """A servo's reply."""
    return packet(servo_id, error, data)


def encode(pkt: Packet) -> bytes:
    """The wire bytes of a decoded packet."""
    return packet(pkt.id, pkt.code, pkt.params)


def status_size(n_data: int) -> int:
    """Bytes on the wire of one status packet carrying n_data bytes."""
    return STATUS_OVERHEAD + n_data


# --- sign-magnitude registers --------------------------------------------------------------------------------

def encode_sign_magnitude(value: int, sign_bit: int, name: str = "value") -> int:
    """Signed int -> raw register value with the sign at `sign_bit` (position/speed 15, Homing_Offset 11, load 10).
    Raises ServoConfigError naming the value when its magnitude does not fit below the sign bit."""
    magnitude = abs(int(value))
    if magnitude >= 1 << sign_bit:
        raise ServoConfigError(f"{name} = {value}: magnitude {magnitude} exceeds {(1 << sign_bit) - 1}, the largest "
                               f"a sign bit at bit {sign_bit} leaves")
    return magnitude | (1 << sign_bit) if value < 0 else magnitude


def decode_sign_magnitude(raw: int, sign_bit: int) -> int:
    """Raw register value -> signed int; bits above the sign bit are ignored."""
    magnitude = raw & ((1 << sign_bit) - 1)
    return -magnitude if raw & (1 << sign_bit) else magnitude


# --- streaming decoder ---------------------------------------------------------------------------------------

class Decoder(StreamDecoder):
    """Feetech frames from any byte stream; see StreamDecoder for the guarantees."""

    HEADER = HEADER
    HEAD_SIZE = 4  # FF FF ID LEN
    ID_OFFSET = 2

    def _length(self, buf: bytearray) -> int:
        length = buf[3]
        return length if buf[2] != 0xFF and 2 <= length <= MAX_LEN else -1

    def _end(self, length: int) -> int:
        return 4 + length

    def _checked(self, buf: bytearray, end: int) -> bool:
        return (~sum(buf[2:end - 1])) & 0xFF == buf[end - 1]

    def _packet(self, buf: bytearray, end: int) -> Packet:
        return Packet(buf[2], buf[4], bytes(buf[5:end - 1]))

    def _frames(self, data: bytes, stride: int) -> list | None:
        length = stride - 4
        if not 2 <= length <= MAX_LEN:
            return None
        out = []
        for head, servo_id, size, code, params, chk in _frame_layout(stride).iter_unpack(data):
            if head != HEADER or servo_id == 0xFF or size != length or \
                    (~(servo_id + size + code + sum(params))) & 0xFF != chk:
                return None
            out.append(Packet(servo_id, code, params))
        return out


@functools.lru_cache(maxsize=None)
def _frame_layout(stride: int) -> struct.Struct:
    """FF FF | ID | LEN | CODE | params | CHK of a `stride`-byte frame, unpacked in C."""
    return struct.Struct(f"<2sBBB{stride - 6}sB")
