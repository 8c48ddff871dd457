"""The serial port under a servo bus: any pyserial URL, reads against a monotonic deadline.

A posix port (a tty, a pty) is waited on with select() and read with os.read on its (non-blocking) descriptor, so
a reply is taken the moment it lands rather than at a poll tick; other URLs (socket://, loop://) are polled with a
0.2 ms nap. Stale input is dropped with reset_input_buffer (flush() only drains output).
"""

from __future__ import annotations

import os
import select
import time

import serial

from ..urls import url_problem
from .errors import ServoLinkError

try:
    import termios
    _PORT_ERRORS: tuple = (serial.SerialException, OSError, termios.error)  # tcflush on a dead pty: termios.error
    _tcflush, _TCIFLUSH = termios.tcflush, termios.TCIFLUSH
except ImportError:  # pragma: no cover - not posix
    _PORT_ERRORS = (serial.SerialException, OSError)
    _tcflush = _TCIFLUSH = None
_POLL_NAP_S = 0.0002
_WRITE_TIMEOUT_S = 1.0


class SerialPort:
    def __init__(self, url: str, baudrate: int):
        self.url, self.baudrate = url, baudrate
        problem = url_problem(url)
        if problem:
            raise ServoLinkError(f"cannot open {url!r}: {problem}")
        try:
            self._serial = serial.serial_for_url(url, baudrate=baudrate, timeout=0, write_timeout=_WRITE_TIMEOUT_S)
        except (serial.SerialException, ValueError, OSError) as exc:
            raise ServoLinkError(f"cannot open {url!r} at {baudrate} baud: {exc}") from None
        try:
            self._fd = self._serial.fileno()
        except (AttributeError, NotImplementedError, serial.SerialException, OSError):
            self._fd = None

    def discard_input(self) -> None:
        """Drop every byte received and not yet read (a late reply of an earlier transaction, noise). A posix port:
        tcflush on its descriptor (what reset_input_buffer does, without pyserial's layers around it)."""
        try:
            if self._fd is not None and _tcflush is not None:
                _tcflush(self._fd, _TCIFLUSH)
            else:
                self._serial.reset_input_buffer()
        except _PORT_ERRORS as exc:
            raise ServoLinkError(f"{self.url}: cannot reset the input buffer: {exc}") from None

    def write(self, data: bytes) -> None:
        """All of data, or ServoLinkError. On a posix port straight to the descriptor (pyserial's write adds a
        select() after every write when a write timeout is set)."""
        try:
            if self._fd is not None:
                self._write_fd(data)
                return
            written = self._serial.write(data)
        except _PORT_ERRORS as exc:
            raise ServoLinkError(f"{self.url}: write failed: {exc}") from None
        if written is not None and written != len(data):
            raise ServoLinkError(f"{self.url}: wrote {written} of {len(data)} bytes")

    def _write_fd(self, data: bytes) -> None:
        try:
            written = os.write(self._fd, data)  # a packet fits the driver's buffer: normally all of it at once
        except BlockingIOError:
            written = 0
        if written == len(data):
            return
        view, deadline = memoryview(data)[written:], time.monotonic() + _WRITE_TIMEOUT_S
        while view:
            try:
                view = view[os.write(self._fd, view):]
            except BlockingIOError:
                pass
            if view and not select.select((), (self._fd,), (), max(0.0, deadline - time.monotonic()))[1]:
                raise ServoLinkError(f"{self.url}: write timed out with {len(view)} of {len(data)} bytes unsent")

    def read_some(self, deadline_s: float) -> bytes:
        """Bytes that arrive before the monotonic deadline: whatever is there once something is; b'' at the deadline.
        A deadline already past still takes what is waiting (one look, no wait)."""
        if self._fd is not None:
            return self._read_fd(deadline_s)
        serial_port = self._serial
        while True:
            try:
                waiting = serial_port.in_waiting
                if waiting:
                    return serial_port.read(waiting)
            except _PORT_ERRORS as exc:
                raise ServoLinkError(f"{self.url}: read failed: {exc}") from None
            if time.monotonic() >= deadline_s:
                return b""
            time.sleep(_POLL_NAP_S)

    def _read_fd(self, deadline_s: float) -> bytes:
        fd = self._fd
        while True:
            remaining = deadline_s - time.monotonic()
            try:
                if not select.select((fd,), (), (), max(0.0, remaining))[0]:
                    return b""
                data = os.read(fd, 4096)
            except BlockingIOError:
                if remaining <= 0:
                    return b""
                continue
            except (OSError, ValueError) as exc:
                raise ServoLinkError(f"{self.url}: read failed (cable pulled?): {exc}") from None
            if not data:
                raise ServoLinkError(f"{self.url}: the port reports data but returned none (device gone?)")
            return data

    def close(self) -> None:
        try:
            self._serial.close()
        except _PORT_ERRORS:
            pass
