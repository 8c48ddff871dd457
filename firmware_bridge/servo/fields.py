"""Field checks and the SYNC_WRITE body both servo codecs share (they differ only in how wide address and length
are, which the caller encodes into `head`)."""

from __future__ import annotations

from typing import Iterable

from .errors import ServoConfigError

MAX_SERVO_ID = 0xFD  # 0xFE is broadcast


def checked(value: int, what: str, hi: int) -> int:
    """value if it is an integer 0..hi, else ServoConfigError naming it."""
    if not isinstance(value, int) or not 0 <= value <= hi:
        raise ServoConfigError(f"{what} must be an integer 0..{hi}, got {value!r}")
    return value


def sync_write_body(head: bytes, length: int, items: Iterable[tuple[int, bytes]]) -> bytes:
    """head (address, length) then ID + `length` data bytes per servo."""
    params = bytearray(head)
    for servo_id, data in items:
        if len(data) != length:
            raise ServoConfigError(f"sync write of {length} bytes got {len(data)} bytes for servo {servo_id}")
        params.append(checked(servo_id, "servo ID", MAX_SERVO_ID))
        params += data
    return bytes(params)
