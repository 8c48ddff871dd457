"""Bytes in, bounded lines out: pure, no I/O, so a 100 MiB line costs a scan, never 100 MiB of memory.

    splitter = LineSplitter(max_bytes=1024)
    splitter.feed(b"touch the red\nblo")   # -> [b"touch the red"]; b"blo" waits for its newline
    splitter.feed(b"x" * 5000)            # -> [TOO_LONG] once; the rest of that line is skipped
    splitter.feed(b"...\nnext\n")          # -> [b"next"]: back in step at the newline
"""

from __future__ import annotations

TOO_LONG = object()  # stands for a line that passed the limit (reported once, when it passes)


class LineSplitter:
    def __init__(self, max_bytes: int):
        if not max_bytes >= 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes!r}")
        self.max_bytes = max_bytes
        self._buf = bytearray()  # the line so far, never more than max_bytes
        self._skipping = False  # inside a line already refused: drop bytes up to its newline

    def feed(self, data: bytes) -> list:
        """Complete lines (bytes, without the newline and a trailing CR) and TOO_LONG markers, in order."""
        out = []
        start, size = 0, len(data)
        while start <= size:
            nl = data.find(b"\n", start)
            end = size if nl < 0 else nl
            if not self._skipping:
                if len(self._buf) + (end - start) > self.max_bytes:
                    self._buf.clear()
                    self._skipping = True
                    out.append(TOO_LONG)
                else:
                    self._buf += data[start:end]
            if nl < 0:
                break
            if not self._skipping:
                out.append(self._line())
            self._skipping = False
            start = nl + 1
        return out

    def finish(self) -> list:
        """At end of input: the unterminated last line, if any (a refused one was already reported)."""
        out = [] if self._skipping or not self._buf else [self._line()]
        self._buf.clear()
        self._skipping = False
        return out

    def _line(self) -> bytes:
        line = bytes(self._buf[:-1] if self._buf.endswith(b"\r") else self._buf)
        self._buf.clear()
        return line
