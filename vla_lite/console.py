"""A command's conversation with the person at the keyboard: prompts answered by a line on stdin, and one status
line that streams while the person works (rewritten in place with a carriage return on a terminal; elsewhere, a
plain line at most every `pipe_period_s`, so logs and test harnesses get whole lines).

stdin is read by one background thread, started by `start()`, so `pressed()` can ask "has Enter come yet?"
between two bus reads without blocking; `ask()` waits for the next line.
"""

from __future__ import annotations

import queue
import sys
import threading
import time


class InputClosed(EOFError):
    """stdin ended before the person answered."""


class Console:
    def __init__(self, stdin=None, out=None, tty_period_s: float = 0.05, pipe_period_s: float = 0.5):
        self._stdin = stdin or sys.stdin
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self._period_s = tty_period_s if self.tty else pipe_period_s
        self._lines: queue.Queue = queue.Queue()
        self._status_shown = False
        self._last_status_s = -float("inf")

    def start(self) -> "Console":
        threading.Thread(target=self._read, name="vla-lite-console", daemon=True).start()
        return self

    def _read(self) -> None:
        for line in iter(self._stdin.readline, ""):
            self._lines.put(line.rstrip("\r\n"))
        self._lines.put(None)

    def say(self, text: str) -> None:
        self._end_status()
        print(text, file=self.out, flush=True)

    def ask(self, prompt: str) -> str:
        """Print the prompt and wait for a line (stripped)."""
        self.say(prompt)
        return self._take(self._lines.get())

    def pressed(self) -> bool:
        """True once a line (Enter) has come since the last prompt."""
        try:
            return self._take(self._lines.get_nowait()) is not None
        except queue.Empty:
            return False

    def _take(self, line):
        if line is None:
            self._lines.put(None)  # stays closed
            raise InputClosed("stdin closed before an answer (run it at a terminal, or feed it the answers)")
        return line.strip()

    def status(self, line: str) -> None:
        """The streaming status line, at most every tty_period_s / pipe_period_s."""
        now = time.monotonic()
        if now - self._last_status_s < self._period_s:
            return
        self._last_status_s = now
        if self.tty:
            print("\r" + line + "\x1b[K", end="", file=self.out, flush=True)
            self._status_shown = True
        else:
            print(line, file=self.out, flush=True)

    def _end_status(self) -> None:
        if self._status_shown:
            print(file=self.out)
            self._status_shown = False
