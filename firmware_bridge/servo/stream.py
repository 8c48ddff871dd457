"""The resynchronising stream decoder both servo codecs share: the search for a header, the wait for a whole frame,
the checksum gate, a byte skipped on anything else. Pure: bytes in, checked packets out, no I/O, never raises."""

from __future__ import annotations

from typing import Iterable


class DecoderStats:
    __slots__ = ("packets", "bad_checksums", "discarded_bytes")

    def __init__(self):
        self.packets = self.bad_checksums = self.discarded_bytes = 0

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


class StreamDecoder:
    """feed(bytes) -> [packet]: finds frames in any byte stream, never raises, never returns a frame whose checksum
    fails. Garbage is skipped a byte at a time (a frame may start inside garbage); a frame with a bad checksum costs
    one byte, and its claimed ID is appended to `bad_ids` (the caller may clear it) so losses are counted per servo.

    `expect(lengths)` restricts the LEN values taken as a frame start (a bus knows its replies' sizes): a garbage
    header claiming another length is skipped at once instead of hiding the real replies behind it. With one LEN
    expected, bytes fed to an empty buffer that are exactly whole frames of that size (a sync read's replies, read
    in one go) are taken at fixed strides by the codec's `_frames` when every frame passes the same checks, and
    by the general search otherwise: the same packets either way, with less Python per frame.

    A codec subclass sets HEADER and HEAD_SIZE (bytes up to and including LEN) and implements `_length` (the LEN
    field, or -1 when the head cannot start a frame), `_end` (frame size from LEN), `_checked` and `_packet`, and
    may implement `_frames` (the fixed-stride fast path)."""

    HEADER = b""
    HEAD_SIZE = 0
    ID_OFFSET = 0

    def __init__(self):
        self._buf = bytearray()
        self._lengths: frozenset[int] | None = None
        self._stride = 0  # the size of a frame of the one LEN expected (0: no fixed-stride fast path)
        self.stats = DecoderStats()
        self.bad_ids: list[int] = []

    def expect(self, lengths: Iterable[int] | None) -> None:
        self._lengths = None if lengths is None else frozenset(lengths)
        self._stride = self._end(next(iter(self._lengths))) if self._lengths and len(self._lengths) == 1 else 0

    def reset(self) -> None:
        """Forget buffered bytes (a new transaction starts)."""
        self.stats.discarded_bytes += len(self._buf)
        self._buf.clear()

    def feed(self, data: bytes) -> list:
        stride = self._stride
        if stride and not self._buf and data and not len(data) % stride:
            out = self._frames(data, stride)
            if out is not None:
                self.stats.packets += len(out)
                return out
        self._buf += data
        return self._parse(final=False)

    def _frames(self, data: bytes, stride: int) -> list | None:
        """`data` cut every `stride` bytes into frames that each pass every check _parse makes: their packets;
        None (the general search takes the bytes) when any does not, or the codec has no fast path."""
        return None

    def finish(self) -> list:
        """No more bytes will come (the reply window closed): frames an incomplete head was hiding, then reset."""
        out = self._parse(final=True)
        self.reset()
        return out

    def _parse(self, final: bool) -> list:
        buf, out, stats, lengths, header = self._buf, [], self.stats, self._lengths, self.HEADER
        while True:
            start = buf.find(header)
            if start < 0:
                keep = len(header) - 1  # a header may be split across feeds
                while keep and not header.startswith(bytes(buf[len(buf) - keep:])):
                    keep -= 1
                keep = min(keep, len(buf))
                stats.discarded_bytes += len(buf) - keep
                del buf[:len(buf) - keep]
                return out
            if start:
                stats.discarded_bytes += start
                del buf[:start]
            if len(buf) < self.HEAD_SIZE:
                if final and self._skip():
                    continue
                return out
            length = self._length(buf)
            if length < 0 or (lengths is not None and length not in lengths):
                self._skip()
                continue
            end = self._end(length)
            if len(buf) < end:
                if final and self._skip():
                    continue
                return out
            if not self._checked(buf, end):
                stats.bad_checksums += 1
                self.bad_ids.append(buf[self.ID_OFFSET])
                self._skip()
                continue
            out.append(self._packet(buf, end))
            stats.packets += 1
            del buf[:end]

    def _skip(self) -> bool:
        if not self._buf:
            return False
        self.stats.discarded_bytes += 1
        del self._buf[:1]
        return True

    def _length(self, buf: bytearray) -> int:
        raise NotImplementedError

    def _end(self, length: int) -> int:
        raise NotImplementedError

    def _checked(self, buf: bytearray, end: int) -> bool:
        raise NotImplementedError

    def _packet(self, buf: bytearray, end: int):
        raise NotImplementedError
