"""What every instruction source shares (one line in, one reply out, refusals logged at a bounded rate), and the
two stream sources: stdin and a FIFO. The socket server is in server.py."""

from __future__ import annotations

import os
import selectors
import stat
import threading
import time
from typing import BinaryIO, Callable, TextIO

from ..text.normalize import MAX_INSTRUCTION_BYTES, InstructionRefused
from .inbox import InstructionInbox
from .lines import TOO_LONG, LineSplitter

MAX_LINE = MAX_INSTRUCTION_BYTES  # bytes; the same limit as --instruction: a longer line is refused, not truncated
READ_BYTES = 65536  # one read; a source never holds more than this plus one line
REFUSALS_LOGGED_PER_S = 1.0  # a flood of bad lines is logged as one line a second plus a count


class LineSource:
    """Base: `handle(item)` posts one line from `LineSplitter` and returns the reply."""
    name = "source"

    def __init__(self, inbox: InstructionInbox, on_event: Callable[[str], None] | None = None,
                 clock=time.monotonic):
        self.inbox = inbox
        self.on_event = on_event or (lambda msg: None)
        self.clock = clock
        self.refused = 0
        self._unlogged = 0  # refusals not logged yet (rate limit)
        self._last_log_s = -float("inf")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self):
        self._thread = threading.Thread(target=self._run, name=f"vla-lite-instructions-{self.name}", daemon=True)
        self._thread.start()
        return self

    def splitter(self) -> LineSplitter:
        return LineSplitter(MAX_LINE)

    def handle(self, item) -> str:
        """Post one line (bytes, or TOO_LONG); the reply: "ok <text>" or "refused: <reason>"."""
        if item is TOO_LONG:
            return self._refuse(f"line longer than {MAX_LINE} bytes; skipped to the next newline")
        try:
            text = self.inbox.post(item, self.name)
        except InstructionRefused as exc:
            return self._refuse(str(exc))
        except Exception as exc:  # noqa: BLE001 - an encoder failure must not kill the source thread
            return self._refuse(f"the text encoder failed: {type(exc).__name__}: {exc}")
        self.on_event(f"vla-lite run: instruction from {self.name}: {text!r}")
        return f"ok {text}"

    def _refuse(self, reason: str) -> str:
        self.refused += 1
        self._unlogged += 1
        now = self.clock()
        if now - self._last_log_s >= 1.0 / REFUSALS_LOGGED_PER_S:
            more = f" ({self._unlogged - 1} more refused since the last note)" if self._unlogged > 1 else ""
            self.on_event(f"vla-lite run: instruction from {self.name} refused: {reason}{more}")
            self._last_log_s, self._unlogged = now, 0
        return f"refused: {reason}"

    def _run(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._stop.set()


class StreamSource(LineSource):
    """Lines from a stream (stdin), read in bounded pieces; replies go to the log. The reading thread is a daemon:
    a blocking read cannot be interrupted, so close() does not join it."""
    name = "stdin"

    def __init__(self, inbox, stream: BinaryIO | TextIO, on_event=None):
        super().__init__(inbox, on_event)
        raw = getattr(stream, "buffer", stream)  # a text stream's bytes underneath (sys.stdin.buffer)
        self._read = getattr(raw, "read1", raw.read)

    def _run(self) -> None:
        splitter = self.splitter()
        while not self._stop.is_set():
            data = self._read(READ_BYTES)
            if isinstance(data, str):  # a text stream with no bytes underneath (io.StringIO)
                data = data.encode("utf-8", "surrogateescape")
            items = splitter.feed(data) if data else splitter.finish()
            for item in items:
                self.handle(item)
            if not data:
                return


def check_fifo_path(path: str) -> bool:
    """ValueError naming the path when it cannot be the instruction FIFO; True when it exists already."""
    if os.path.lexists(path):
        if not stat.S_ISFIFO(os.stat(path).st_mode):
            raise ValueError(f"--instruction-fifo {path} exists and is not a FIFO; expected a named pipe path")
        return True
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--instruction-fifo {path}: folder {parent} does not exist; expected a path in an "
                         "existing folder")
    return False


class FifoSource(LineSource):
    """Lines written to a named pipe, created if absent (and then removed by close()); replies go to the log."""
    name = "fifo"

    def __init__(self, inbox, path: str, on_event=None):
        super().__init__(inbox, on_event)
        existed = check_fifo_path(path)
        if not existed:
            try:
                os.mkfifo(path, 0o600)
            except OSError as exc:
                raise ValueError(f"--instruction-fifo {path}: cannot create the FIFO ({exc.strerror})") from None
        self.path, self.created = path, not existed
        # O_RDWR keeps the FIFO open between writers (reads wait instead of hitting EOF); non-blocking so that the
        # thread wakes for close().
        self._fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)

    def _run(self) -> None:
        splitter = self.splitter()
        with selectors.DefaultSelector() as sel:
            sel.register(self._fd, selectors.EVENT_READ)
            while not self._stop.is_set():
                if not sel.select(timeout=0.2):
                    continue
                try:
                    data = os.read(self._fd, READ_BYTES)
                except BlockingIOError:
                    continue
                for item in splitter.feed(data):
                    self.handle(item)

    def close(self) -> None:
        super().close()
        if self._thread is not None:
            self._thread.join(2.0)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.created:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.created = False
