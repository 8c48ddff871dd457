"""COBS framing and CRC-32C: C-backed when the `cobs` and `crc32c` packages are present, pure Python otherwise.

The pure-Python versions are complete implementations, not stubs: boards without wheels for the C packages use
them, and the codec benchmark measures them as the naive baseline.
"""

from __future__ import annotations


class CobsError(ValueError):
    """Bytes that are not a valid COBS encoding."""


# --- pure Python -------------------------------------------------------------------------------------------

def _make_crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1  # 0x82F63B78: reflected 0x1EDC6F41
        table.append(crc)
    return table


_CRC_TABLE = _make_crc32c_table()


def crc32c_py(data: bytes, crc: int = 0) -> int:
    """CRC-32C (Castagnoli), reflected, init and final XOR 0xFFFFFFFF; `crc` continues a previous result."""
    crc ^= 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF


def cobs_encode_py(data: bytes) -> bytes:
    """COBS-encode `data`; the result has no 0x00 byte (the caller appends the delimiter)."""
    out = bytearray()
    blocks = bytes(data).split(b"\x00")
    last = len(blocks) - 1
    for i, block in enumerate(blocks):
        # A block of up to 254 non-zero bytes is prefixed by its length + 1; longer blocks are cut at 254
        # with a 0xFF code that implies no zero. A final block that ends exactly on a cut needs no code.
        cut = False
        while len(block) >= 254:
            out.append(0xFF)
            out += block[:254]
            block = block[254:]
            cut = True
        if block or not cut or i != last:
            out.append(len(block) + 1)
            out += block
    return bytes(out)


def cobs_decode_py(data: bytes) -> bytes:
    """Invert cobs_encode_py; raises CobsError on a zero byte or a code that runs past the end."""
    out = bytearray()
    i, n = 0, len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError(f"zero byte at offset {i} inside a COBS frame")
        end = i + code
        if end > n:
            raise CobsError(f"COBS code {code} at offset {i} runs past the frame end ({n} bytes)")
        block = data[i + 1:end]
        if 0 in block:
            raise CobsError(f"zero byte inside the COBS block at offset {i}")
        out += block
        i = end
        if code < 0xFF and i < n:
            out.append(0)
    return bytes(out)


# --- C-backed, when installed -----------------------------------------------------------------------------

try:  # pragma: no cover - which branch runs depends on the install
    from cobs import cobs as _cobs
    from crc32c import crc32c  # crc32c(data, value=0): `value` continues a previous result

    cobs_encode = _cobs.encode
    cobs_decode = _cobs.decode  # raises cobs.DecodeError: catch COBS_ERRORS
    COBS_ERRORS: tuple = (CobsError, _cobs.DecodeError)
    ACCELERATED = True
except ImportError:  # pragma: no cover
    cobs_encode, cobs_decode, crc32c = cobs_encode_py, cobs_decode_py, crc32c_py
    COBS_ERRORS = (CobsError,)
    ACCELERATED = False
