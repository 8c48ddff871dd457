"""Changing the instruction while the loop runs: a line on stdin, a loopback TCP socket, or a FIFO.

Every source posts to one `InstructionInbox`, which encodes the text in the *poster's* thread (the text encoder
caches per distinct instruction), so the control thread only swaps an array: no encoder run on the control path.
Sources start threads only when `start()` is called. The socket binds to 127.0.0.1 unless told otherwise.

    echo "touch the blue block" | nc 127.0.0.1 7011      # socket: one instruction per line, answered "ok ..."
    echo "touch the blue block" > /tmp/vla-instructions  # FIFO
"""

from __future__ import annotations

import os
import socket
import stat
import threading
from typing import Callable, TextIO

import numpy as np

from .text.normalize import normalize_instruction

MAX_LINE = 1024  # bytes; a longer line is refused, not truncated


class InstructionInbox:
    def __init__(self, encode: Callable[[str], np.ndarray]):
        self._encode = encode
        self._lock = threading.Lock()
        self._latest: tuple[str, np.ndarray, str] | None = None
        self.posted = 0

    def post(self, text: str, source: str = "api") -> str:
        """Encode and queue; the loop applies it at its next tick. Returns the normalised text. Raises ValueError
        on an empty instruction (the caller reports it to whoever sent it)."""
        text = normalize_instruction(text)
        embedding = np.asarray(self._encode(text), np.float32)
        with self._lock:
            self._latest = (text, embedding, source)
            self.posted += 1
        return text

    def take(self) -> tuple[str, np.ndarray, str] | None:
        """The newest posted (text, embedding, source) once, else None. Non-blocking."""
        with self._lock:
            latest, self._latest = self._latest, None
            return latest


class _LineSource:
    name = "source"

    def __init__(self, inbox: InstructionInbox, on_event: Callable[[str], None] | None = None):
        self.inbox = inbox
        self.on_event = on_event or (lambda msg: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"vla-lite-instructions-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _handle(self, line: str) -> str:
        """Post one line; returns the reply text."""
        if len(line.encode("utf-8", "replace")) > MAX_LINE:
            return f"error: instruction longer than {MAX_LINE} bytes"
        if not line.strip():
            return "error: empty instruction"
        try:
            text = self.inbox.post(line, self.name)
        except Exception as exc:  # an encoder failure must not kill the source thread
            self.on_event(f"instruction from {self.name} refused: {exc}")
            return f"error: {exc}"
        self.on_event(f"instruction from {self.name}: {text!r}")
        return f"ok {text}"

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()


class StreamSource(_LineSource):
    """Lines from a text stream (stdin). The reading thread is a daemon: a blocking read cannot be interrupted,
    so close() does not join it."""
    name = "stdin"

    def __init__(self, inbox, stream: TextIO, on_event=None):
        super().__init__(inbox, on_event)
        self.stream = stream

    def _run(self) -> None:
        for line in self.stream:
            if self._stop.is_set():
                return
            self._handle(line)


class SocketSource(_LineSource):
    """A line-per-instruction TCP server on host:port (127.0.0.1 by default; port 0 picks a free one)."""
    name = "socket"

    def __init__(self, inbox, host: str = "127.0.0.1", port: int = 0, on_event=None):
        super().__init__(inbox, on_event)
        self._server = socket.create_server((host, port))
        self._server.settimeout(0.2)
        self.address = self._server.getsockname()[:2]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2.0)
                try:
                    for line in conn.makefile("r", encoding="utf-8", errors="replace"):
                        conn.sendall((self._handle(line) + "\n").encode("utf-8"))
                except OSError:
                    continue

    def close(self) -> None:
        super().close()
        self._server.close()
        if self._thread is not None:
            self._thread.join(2.0)


class FifoSource(_LineSource):
    """Lines written to a named pipe (created if absent; an existing non-FIFO path is refused)."""
    name = "fifo"

    def __init__(self, inbox, path: str, on_event=None):
        super().__init__(inbox, on_event)
        if os.path.exists(path):
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                raise ValueError(f"--instruction-fifo {path} exists and is not a FIFO; expected a named pipe path")
        else:
            os.mkfifo(path, 0o600)
        self.path = path

    def _run(self) -> None:
        while not self._stop.is_set():
            # O_RDWR keeps the FIFO open between writers, so reads block instead of hitting EOF.
            fd = os.open(self.path, os.O_RDWR)
            with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    if self._stop.is_set():
                        return
                    self._handle(line)
