"""Pacing for sources that are not a live device (video files, image folders, a simulated world's renderer), so
they deliver frames like a live camera.

Frame k is due at t0 + k / fps on an absolute schedule (no drift). A reader that falls more than one frame
behind restarts the schedule from now instead of catching up in a burst, as a live camera would simply have
moved on. Pure logic: the clock and the sleep are injected. The sleep may return early (a short poll of an
injected clock that a driver moves); returning True (threading.Event.wait once set) means stop waiting.
"""

from __future__ import annotations

import math
from typing import Callable


class FramePacer:
    def __init__(self, fps: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= 1000 or math.isnan(fps):
            raise ValueError(f"fps must be a number in (0, 1000] frames/s, got {fps!r}")
        self.fps, self.period_s = float(fps), 1.0 / fps
        self.clock, self.sleep = clock, sleep
        self._due_s: float | None = None  # when the next frame may be delivered
        self.restarts = 0  # times the reader fell more than a frame behind

    def wait(self) -> bool:
        """Block until the next frame is due (the first is due at once). False when the sleep said stop first."""
        now = self.clock()
        if self._due_s is None:
            self._due_s = now
        elif now > self._due_s + self.period_s:  # more than a frame late: restart, never burst
            self._due_s = now
            self.restarts += 1
        while self._due_s > now:
            if self.sleep(self._due_s - now):
                return False
            now = self.clock()
        self._due_s += self.period_s
        return True
