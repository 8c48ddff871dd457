"""The arm protocol as a pure codec: `encode(msg, seq) -> bytes` and `Decoder.feed(bytes) -> [Packet]`.

No I/O happens here, so the codec is tested with bytes alone, fuzzed, and mirrored by the C reference in `c/`.
PROTOCOL.md is the specification; `golden_vectors.json` pins the bytes.
"""

from __future__ import annotations

import enum
import math
import struct
from dataclasses import dataclass, field
from typing import NamedTuple, Union

from .framing import COBS_ERRORS, cobs_decode, cobs_encode, crc32c

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 0
MAX_FRAME = 512  # unencoded bytes: header + payload + CRC
MAX_ENCODED = MAX_FRAME + 6  # COBS adds at most 1 byte per 254, plus one
MAX_JOINTS = 32
MAX_STR = 64

SCHEMA_TEXT = (
    "HELLO 1 u32 schema_hash;str8 client\n"
    "HELLO_ACK 2 u32 schema_hash;u8 fw_major;u8 fw_minor;u8 fw_patch;u8 modes;f32 max_rate_hz;u16 watchdog_ms;"
    "u16 torque_off_ms;u8 n_joints;str8 name;joint[n_joints]{str8 name;u8 unit;f32 pos_min;f32 pos_max;"
    "f32 vel_max;f32 acc_max;f32 effort_max}\n"
    "COMMAND 3 u8 mode;u8 n;u16 valid_ms;f32[n] target\n"
    "STATE 4 u32 ack_seq;u64 time_us;u16 status;u16 faults;u8 n;f32[n] position;f32[n] velocity;f32[n] effort\n"
    "HEARTBEAT 5\n"
    "ESTOP 6\n"
    "CLEAR_FAULT 7 u16 mask\n"
    "TORQUE 8 u8 enable\n"
    "LOG 9 u8 level;u16 code;str8 text\n"
)
SCHEMA_HASH = crc32c(SCHEMA_TEXT.encode("ascii"))


class MsgType(enum.IntEnum):
    HELLO = 1
    HELLO_ACK = 2
    COMMAND = 3
    STATE = 4
    HEARTBEAT = 5
    ESTOP = 6
    CLEAR_FAULT = 7
    TORQUE = 8
    LOG = 9


class Mode(enum.IntEnum):
    JOINT_POSITION = 1
    JOINT_VELOCITY = 2
    EE_DELTA = 3


class Unit(enum.IntEnum):
    RAD = 0
    M = 1
    FRACTION = 2  # dimensionless 0..1 (a gripper's opening, as a calibrated servo arm reports it)


class Status(enum.IntFlag):
    ENABLED = 1 << 0
    HOLDING = 1 << 1
    MOVING = 1 << 2
    ESTOP = 1 << 3
    FAULTED = 1 << 4
    REJECTED = 1 << 5
    LINKED = 1 << 6


class Fault(enum.IntFlag):
    WATCHDOG = 1 << 0
    TORQUE_OFF = 1 << 1
    ESTOP = 1 << 2
    HARDWARE = 1 << 3
    VERSION = 1 << 4


class LogCode(enum.IntEnum):
    WATCHDOG_TRIPPED = 1
    TORQUE_OFF = 2
    TARGET_OUT_OF_LIMITS = 3
    BAD_MODE = 4
    BAD_LENGTH = 5
    VERSION_MISMATCH = 6
    REFUSED_WHILE_FAULTED = 7
    ESTOP = 8
    SCHEMA_MISMATCH = 9


# --- messages: plain tuples, cheap to build on the control path -------------------------------------------

class Hello(NamedTuple):
    schema_hash: int = SCHEMA_HASH
    client: str = "vla-lite"


class JointInfo(NamedTuple):
    name: str
    unit: Unit
    pos_min: float
    pos_max: float
    vel_max: float  # rad/s or m/s
    acc_max: float  # rad/s² or m/s²
    effort_max: float  # N·m or N


class HelloAck(NamedTuple):
    schema_hash: int
    firmware: tuple[int, int, int]
    modes: tuple[Mode, ...]
    max_rate_hz: float
    watchdog_ms: int
    torque_off_ms: int
    name: str
    joints: tuple[JointInfo, ...]


class Command(NamedTuple):
    mode: Mode
    target: tuple[float, ...]  # SI: rad / m, rad/s, or EE delta (PROTOCOL.md §2)
    valid_ms: int


class State(NamedTuple):
    ack_seq: int
    time_us: int
    status: int  # Status bits
    faults: int  # Fault bits
    position: tuple[float, ...]
    velocity: tuple[float, ...]
    effort: tuple[float, ...]


class Heartbeat(NamedTuple):
    pass


class Estop(NamedTuple):
    pass


class ClearFault(NamedTuple):
    mask: int = 0xFFFF


class Torque(NamedTuple):
    enable: bool


class Log(NamedTuple):
    level: int  # 0 debug, 1 info, 2 warning, 3 error
    code: int  # LogCode
    text: str


class ForeignVersion(NamedTuple):
    """A CRC-valid frame from a peer speaking another protocol major; its payload is not decoded."""
    major: int
    minor: int
    type: int


Message = Union[Hello, HelloAck, Command, State, Heartbeat, Estop, ClearFault, Torque, Log]


class Packet(NamedTuple):
    seq: int
    msg: Union[Message, ForeignVersion]
    minor: int = PROTOCOL_MINOR


# --- encoding ------------------------------------------------------------------------------------------------

_HEADER = struct.Struct("<BBBBI")
_U8, _U16, _U32 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I")
_CMD_HEAD = struct.Struct("<BBH")
_STATE_HEAD = struct.Struct("<IQHHB")
_ACK_HEAD = struct.Struct("<IBBBBfHHB")
_JOINT_LIMITS = struct.Struct("<B5f")
_LOG_HEAD = struct.Struct("<BH")
_floats: dict[int, struct.Struct] = {}


def _f32s(n: int) -> struct.Struct:
    s = _floats.get(n)
    if s is None:
        s = _floats[n] = struct.Struct(f"<{n}f")
    return s


def _str8(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > MAX_STR:
        raise ValueError(f"string {text[:20]!r}… is {len(raw)} UTF-8 bytes; the protocol allows at most {MAX_STR}")
    return bytes((len(raw),)) + raw


def _modes_mask(modes) -> int:
    mask = 0
    for mode in modes:
        mask |= 1 << (int(mode) - 1)
    return mask


def _enc_hello(m: Hello) -> bytes:
    return _U32.pack(m.schema_hash) + _str8(m.client)


def _enc_hello_ack(m: HelloAck) -> bytes:
    if not 1 <= len(m.joints) <= MAX_JOINTS:
        raise ValueError(f"HELLO_ACK needs 1 to {MAX_JOINTS} joints, got {len(m.joints)}")
    out = [_ACK_HEAD.pack(m.schema_hash, *m.firmware, _modes_mask(m.modes), m.max_rate_hz, m.watchdog_ms,
                          m.torque_off_ms, len(m.joints)), _str8(m.name)]
    for j in m.joints:
        out += [_str8(j.name), _JOINT_LIMITS.pack(int(j.unit), j.pos_min, j.pos_max, j.vel_max, j.acc_max,
                                                  j.effort_max)]
    return b"".join(out)


def _enc_command(m: Command) -> bytes:
    n = len(m.target)
    return _CMD_HEAD.pack(m.mode, n, m.valid_ms) + _f32s(n).pack(*m.target)


def _enc_state(m: State) -> bytes:
    n = len(m.position)
    if len(m.velocity) != n or len(m.effort) != n:
        raise ValueError(f"STATE vectors differ in length: {n}, {len(m.velocity)}, {len(m.effort)}")
    return _STATE_HEAD.pack(m.ack_seq, m.time_us, m.status, m.faults, n) + _f32s(3 * n).pack(
        *m.position, *m.velocity, *m.effort)


_ENCODERS = {
    Hello: (MsgType.HELLO, _enc_hello),
    HelloAck: (MsgType.HELLO_ACK, _enc_hello_ack),
    Command: (MsgType.COMMAND, _enc_command),
    State: (MsgType.STATE, _enc_state),
    Heartbeat: (MsgType.HEARTBEAT, lambda m: b""),
    Estop: (MsgType.ESTOP, lambda m: b""),
    ClearFault: (MsgType.CLEAR_FAULT, lambda m: _U16.pack(m.mask)),
    Torque: (MsgType.TORQUE, lambda m: _U8.pack(1 if m.enable else 0)),
    Log: (MsgType.LOG, lambda m: _LOG_HEAD.pack(m.level, m.code) + _str8(m.text)),
}


_cmd_frames: dict[int, struct.Struct] = {}


def _command_body(msg: Command, seq: int, major: int, minor: int) -> bytes:
    """Header and COMMAND payload in one pack call: COMMAND is sent every tick."""
    n = len(msg.target)
    s = _cmd_frames.get(n)
    if s is None:
        s = _cmd_frames[n] = struct.Struct(f"<BBBBIBBH{n}f")
    return s.pack(major, minor, MsgType.COMMAND, 0, seq & 0xFFFFFFFF, msg.mode, n, msg.valid_ms, *msg.target)


def encode(msg: Message, seq: int, *, major: int = PROTOCOL_MAJOR, minor: int = PROTOCOL_MINOR) -> bytes:
    """One wire frame: COBS(header | payload | crc32c) + 0x00."""
    if type(msg) is Command:
        body = _command_body(msg, seq, major, minor)
        return cobs_encode(body + _U32.pack(crc32c(body))) + b"\x00"
    try:
        mtype, enc = _ENCODERS[type(msg)]
    except KeyError:
        raise TypeError(f"cannot encode {type(msg).__name__}; expected one of the protocol messages") from None
    body = _HEADER.pack(major, minor, mtype, 0, seq & 0xFFFFFFFF) + enc(msg)
    if len(body) + 4 > MAX_FRAME:
        raise ValueError(f"{mtype.name} frame would be {len(body) + 4} bytes; the limit is {MAX_FRAME}")
    return cobs_encode(body + _U32.pack(crc32c(body))) + b"\x00"


# --- decoding ------------------------------------------------------------------------------------------------

class _Reader:
    """Cursor over a variable-length payload; every read checks bounds so a short payload raises ValueError."""
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos

    def take(self, st: struct.Struct) -> tuple:
        if self.pos + st.size > len(self.buf):
            raise ValueError("payload too short")
        out = st.unpack_from(self.buf, self.pos)
        self.pos += st.size
        return out

    def str8(self) -> str:
        (n,) = self.take(_U8)
        if n > MAX_STR or self.pos + n > len(self.buf):
            raise ValueError("bad string length")
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(raw).decode("utf-8")

    def end(self) -> None:
        if self.pos != len(self.buf):
            raise ValueError("payload has trailing bytes")


_new = tuple.__new__  # builds a NamedTuple without its Python-level __new__: ~3x faster on the per-tick path

# Decoders take (body, offset of the payload) and raise ValueError when the payload does not fit its type.
# COMMAND and STATE, the per-tick messages, unpack in one call without a cursor.

def _exact(body: bytes, end: int) -> None:
    if len(body) != end:
        raise ValueError("payload length does not match its type")


def _dec_hello(body: bytes, off: int) -> Hello:
    r = _Reader(body, off)
    (schema,) = r.take(_U32)
    msg = Hello(schema, r.str8())
    r.end()
    return msg


def _dec_hello_ack(body: bytes, off: int) -> HelloAck:
    r = _Reader(body, off)
    schema, fa, fb, fc, modes, rate, wd, toff, n = r.take(_ACK_HEAD)
    if not 1 <= n <= MAX_JOINTS:
        raise ValueError("bad joint count")
    name = r.str8()
    joints = []
    for _ in range(n):
        jname = r.str8()
        unit, *limits = r.take(_JOINT_LIMITS)
        joints.append(JointInfo(jname, Unit(unit), *limits))
    r.end()
    return HelloAck(schema, (fa, fb, fc), tuple(m for m in Mode if modes & (1 << (m - 1))), rate, wd, toff, name,
                    tuple(joints))


def _dec_command(body: bytes, off: int) -> Command:
    if len(body) < off + _CMD_HEAD.size:
        raise ValueError("payload too short")
    mode, n, valid_ms = _CMD_HEAD.unpack_from(body, off)
    off += _CMD_HEAD.size
    _exact(body, off + 4 * n)
    return _new(Command, (mode, _f32s(n).unpack_from(body, off), valid_ms))


def _dec_state(body: bytes, off: int) -> State:
    if len(body) < off + _STATE_HEAD.size:
        raise ValueError("payload too short")
    ack, t_us, status, faults, n = _STATE_HEAD.unpack_from(body, off)
    off += _STATE_HEAD.size
    _exact(body, off + 12 * n)
    v = _f32s(3 * n).unpack_from(body, off)
    return _new(State, (ack, t_us, status, faults, v[:n], v[n:2 * n], v[2 * n:]))


def _dec_empty(cls):
    def dec(body: bytes, off: int):
        _exact(body, off)
        return cls()
    return dec


def _dec_clear_fault(body: bytes, off: int) -> ClearFault:
    _exact(body, off + 2)
    return ClearFault(*_U16.unpack_from(body, off))


def _dec_torque(body: bytes, off: int) -> Torque:
    _exact(body, off + 1)
    return Torque(bool(body[off]))


def _dec_log(body: bytes, off: int) -> Log:
    r = _Reader(body, off)
    level, code = r.take(_LOG_HEAD)
    msg = Log(level, code, r.str8())
    r.end()
    return msg


_DECODERS = {
    MsgType.HELLO: _dec_hello,
    MsgType.HELLO_ACK: _dec_hello_ack,
    MsgType.COMMAND: _dec_command,
    MsgType.STATE: _dec_state,
    MsgType.HEARTBEAT: _dec_empty(Heartbeat),
    MsgType.ESTOP: _dec_empty(Estop),
    MsgType.CLEAR_FAULT: _dec_clear_fault,
    MsgType.TORQUE: _dec_torque,
    MsgType.LOG: _dec_log,
}


@dataclass
class DecoderStats:
    """Counters; every byte that did not become a message is accounted for in one of the drop reasons."""
    frames: int = 0  # messages delivered
    bytes: int = 0
    overflow: int = 0  # encoded frame longer than MAX_ENCODED
    cobs_errors: int = 0
    short: int = 0
    crc_failures: int = 0
    bad_payload: int = 0  # wrong length or content for its type
    unknown_type: int = 0
    foreign_version: int = 0  # delivered as ForeignVersion, also counted here

    @property
    def dropped(self) -> int:
        return self.overflow + self.cobs_errors + self.short + self.crc_failures + self.bad_payload \
            + self.unknown_type

    # Each drop is followed by a resynchronisation at the next 0x00 delimiter.
    resyncs = dropped

    def as_dict(self) -> dict:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["dropped"] = self.dropped
        return d


@dataclass
class Decoder:
    """Byte stream in, packets out. Never raises on any input; every rejected frame is counted."""
    major: int = PROTOCOL_MAJOR
    stats: DecoderStats = field(default_factory=DecoderStats)
    _buf: bytearray = field(default_factory=bytearray, repr=False)
    _overflowed: bool = field(default=False, repr=False)

    def feed(self, data: bytes) -> list[Packet]:
        self.stats.bytes += len(data)
        out: list[Packet] = []
        if not self._buf and not self._overflowed and data.find(b"\x00") == len(data) - 1:
            if len(data) > 1:  # the common case: exactly one whole frame
                self._frame(data[:-1], out)
            return out
        parts = data.split(b"\x00")
        for i, part in enumerate(parts):
            if i == len(parts) - 1:  # no delimiter yet: keep for the next feed
                self._append(part)
                break
            if self._buf:
                self._append(part)
                part = bytes(self._buf)
                self._buf.clear()
            overflowed, self._overflowed = self._overflowed, False
            if overflowed:
                continue  # the frame was already counted as an overflow
            if part:
                self._frame(part, out)
        return out

    def _append(self, part: bytes) -> None:
        if self._overflowed:
            return
        self._buf += part
        if len(self._buf) > MAX_ENCODED:
            self._buf.clear()
            self._overflowed = True
            self.stats.overflow += 1

    def _frame(self, enc: bytes, out: list[Packet]) -> None:
        st = self.stats
        if len(enc) > MAX_ENCODED:
            st.overflow += 1
            return
        try:
            raw = cobs_decode(enc)
        except COBS_ERRORS:
            st.cobs_errors += 1
            return
        if len(raw) < _HEADER.size + 4:
            st.short += 1
            return
        body = raw[:-4]
        if crc32c(body) != _U32.unpack_from(raw, len(raw) - 4)[0]:
            st.crc_failures += 1
            return
        major, minor, mtype, _flags, seq = _HEADER.unpack_from(raw)
        if major != self.major:
            st.foreign_version += 1
            out.append(Packet(seq, ForeignVersion(major, minor, mtype), minor))
            return
        dec = _DECODERS.get(mtype)
        if dec is None:
            st.unknown_type += 1
            return
        try:
            msg = dec(body, _HEADER.size)
        except (ValueError, struct.error):  # UnicodeDecodeError is a ValueError
            st.bad_payload += 1
            return
        st.frames += 1
        out.append(_new(Packet, (seq, msg, minor)))


def finite(values) -> bool:
    """True when every value is a finite float (no NaN, no ±Inf)."""
    return all(math.isfinite(v) for v in values)
