"""The one place instructions from every source meet: checked and encoded in the poster's thread, taken by the
control thread as a ready (text, embedding, source) triple."""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from ..text.normalize import normalize_instruction


class InstructionInbox:
    def __init__(self, encode: Callable[[str], np.ndarray]):
        self._encode = encode
        self._lock = threading.Lock()
        self._latest: tuple[str, np.ndarray, str] | None = None
        self.posted = 0

    def post(self, text: str | bytes, source: str = "api") -> str:
        """Check, encode and queue; the loop applies it at its next tick. Returns the normalised text.
        InstructionRefused (a ValueError) saying why when the text is unusable (empty, not UTF-8, control
        characters, too long); the caller reports it to whoever sent it."""
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
