"""`RenderedCamera`: the Camera of a simulated world, on the world's (injectable) clock.

A subclass gives one hook, `render() -> (image, capture time)`: (H, W, 3) uint8 RGB of the world as it is now,
the time being when it read the world's state. Two modes:
- on demand (fps None): `read()` renders there and then, so with a clock the driver moves (lockstep evaluation)
  the frame shows the world at exactly the driver's time;
- threaded (fps given): `start()` runs the shared capture thread (ThreadedCamera) over the renderer, paced to
  absolute frame times on the clock (FramePacer; an injected clock is polled every POLL_S real seconds);
  `read()` returns the newest frame and raises StaleFrame when it is older than max_age_s.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from .base import Frame, StaleFrame
from .frame_pacer import FramePacer
from .threaded import ThreadedCamera

POLL_S = 0.005  # real seconds between looks at an injected clock that has not reached the next frame time yet


class _PacedRender:
    """TimedFrameSource over a render hook, one frame per frame time on the clock."""

    def __init__(self, render: Callable[[], tuple[np.ndarray, float]], fps: float,
                 clock: Callable[[], float]):
        self._render, self._clock = render, clock
        self._stop = threading.Event()
        self.pacer = FramePacer(fps, clock, lambda dt: self._stop.wait(min(dt, POLL_S)))

    def grab_timed(self) -> tuple[np.ndarray | None, float]:
        if not self.pacer.wait() or self._stop.is_set():
            return None, self._clock()
        return self._render()

    def grab(self) -> np.ndarray | None:
        return self.grab_timed()[0]

    def close(self) -> None:
        self._stop.set()


class PerThread:
    """One object per calling thread, made by `make()` on first use there (MuJoCo's GL contexts belong to the
    thread that made them, so a camera read from its capture thread and from a driver's needs one renderer each);
    `close_all()` closes every one made (best effort: a context another thread still holds goes with the process)."""

    def __init__(self, make: Callable[[], object]):
        self._make = make
        self._items: dict[int, object] = {}
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            item = self._items.get(threading.get_ident())
            if item is None:
                item = self._items[threading.get_ident()] = self._make()
            return item

    def close_all(self) -> None:
        with self._lock:
            items, self._items = list(self._items.values()), {}
        for item in items:
            try:
                item.close()
            except Exception:
                pass


class RenderedCamera:
    """Camera protocol (vla_lite.cameras.base) over `render()`; see the module docstring."""

    def __init__(self, name: str, *, fps: float | None = None, max_age_s: float = 0.5,
                 clock: Callable[[], float] = time.monotonic):
        if fps is not None and not 0 < fps <= 1000:
            raise ValueError(f"camera fps must be in (0, 1000], got {fps!r}")
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0 s, got {max_age_s!r}")
        self.name, self.max_age_s, self.clock = name, max_age_s, clock
        self._capture = None if fps is None else ThreadedCamera(
            name, _PacedRender(self.render, fps, clock), clock, start=False, max_age_s=max_age_s)
        self._lock = threading.Lock()
        self._next_index = 0  # on demand: frames rendered so far
        self._closed = False

    def render(self) -> tuple[np.ndarray, float]:
        """(image, capture time) of the world now. The subclass's hook; called from the capture thread when
        threaded, else from the reader's."""
        raise NotImplementedError

    @property
    def threaded(self) -> bool:
        return self._capture is not None

    @property
    def capturing(self) -> bool:
        """Threaded and the capture thread is running."""
        return self._capture is not None and self._capture.capturing

    @property
    def frames_late(self) -> int:
        """Threaded: frame times missed by more than a period (skipped, not made up)."""
        return 0 if self._capture is None else self._capture.source.pacer.restarts

    def start(self) -> "RenderedCamera":
        """Start the capture thread (threaded mode only); returns self."""
        if self._capture is None:
            raise RuntimeError(f"camera {self.name!r} renders on demand (fps=None); there is no thread to start")
        self._capture.start()
        return self

    def capture_once(self) -> Frame:
        """On demand: render one frame now; it is the newest."""
        if self._capture is not None:
            raise RuntimeError(f"camera {self.name!r} captures in its thread; read() the newest frame instead")
        if self._closed:
            raise StaleFrame(f"camera {self.name!r} is closed")
        image, t_s = self.render()
        with self._lock:
            frame = Frame(image, t_s, self._next_index)
            self._next_index += 1
        return frame

    def read(self, max_age_s: float | None = None) -> Frame:
        """Newest frame (on demand: rendered now). Raises StaleFrame when closed, or when threaded and none has
        arrived or it is older than max_age_s (None: the camera's own)."""
        if self._capture is None:
            return self.capture_once()
        return self._capture.read(max_age_s)

    def wait(self, after_index: int = -1, timeout_s: float = 5.0) -> Frame:
        """A frame newer than after_index: on demand, rendered now; threaded, waited for (real time)."""
        if self._capture is None:
            return self.capture_once()
        return self._capture.wait(after_index, timeout_s)

    def close(self) -> None:
        """Stop and join the capture thread. Safe to call twice."""
        self._closed = True
        if self._capture is not None:
            self._capture.close()
