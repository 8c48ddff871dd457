"""`SimCamera`: the Camera protocol over the rendered tabletop, with the arm where a VirtualArm says it is.

Two modes:
- on demand (fps=None): `read()` renders there and then, t_capture_s = clock(). For lockstep evaluation with an
  injected clock: the frame shows the arm exactly at the driver's time.
- threaded (fps given): `start()` runs a daemon capture thread calling `SimFrameSource.grab()`, which paces
  itself to absolute deadlines on the clock and renders; `read()` returns the newest frame and raises StaleFrame
  when it is older than max_age_s. With a fake clock the thread captures only when the clock reaches the next
  deadline (it polls the clock every few real milliseconds).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from ..cameras.base import Frame, StaleFrame, fresh_or_stale
from .world import TABLE, TableSpec, World

POLL_S = 0.005  # real seconds between looks at an injected clock that has not reached the next deadline yet


class SimFrameSource:
    """FrameSource: `grab()` blocks until the next frame time (fps None: none) and renders the world with the arm
    at `positions()`. `set_world()` may be called from any thread. Thread-confined otherwise."""

    def __init__(self, positions: Callable[[], np.ndarray], *, size_px: int = 96, fps: float | None = None,
                 clock: Callable[[], float] = time.monotonic, spec: TableSpec = TABLE):
        if fps is not None and not 0 < fps <= 1000:
            raise ValueError(f"camera fps must be in (0, 1000], got {fps!r}")
        from .render import Renderer
        self.renderer = Renderer(size_px, spec)
        self._positions, self._clock = positions, clock
        self.period_s = None if fps is None else 1.0 / fps
        self._world: World | None = None
        self._world_lock = threading.Lock()
        self._next_s: float | None = None  # deadline of the next frame, clock seconds
        self.frames_late = 0  # deadlines missed by more than a period (skipped, not made up)
        self.stop_event = threading.Event()  # set: grab() returns None

    def set_world(self, world: World | None) -> None:
        with self._world_lock:
            self._world = world

    def render_now(self) -> tuple[np.ndarray, float]:
        """(image, capture time): the arm's positions are read at that time."""
        with self._world_lock:
            world = self._world
        t_s = self._clock()
        return self.renderer.render(world, self._positions()), t_s

    def grab(self) -> np.ndarray | None:
        return self.grab_timed()[0]

    def grab_timed(self) -> tuple[np.ndarray | None, float]:
        """Wait for the next deadline, then render: (image or None once stopped, capture time)."""
        if self.period_s is not None:
            now = self._clock()
            if self._next_s is None:
                self._next_s = now
            while (remaining := self._next_s - now) > 0:
                if self.stop_event.wait(min(remaining, POLL_S)):
                    return None, now
                now = self._clock()
            self._next_s += self.period_s
            if self._next_s <= now:  # more than a period behind: resume from now rather than burst
                self.frames_late += 1
                self._next_s = now + self.period_s
        if self.stop_event.is_set():
            return None, self._clock()
        return self.render_now()

    def close(self) -> None:
        self.stop_event.set()


class SimCamera:
    """Camera protocol (vla_lite.cameras.base) for the simulated world; see the module docstring."""

    def __init__(self, arm, *, name: str = "front", size_px: int = 96, fps: float | None = None,
                 max_age_s: float = 0.5, clock: Callable[[], float] = time.monotonic, spec: TableSpec = TABLE):
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0 s, got {max_age_s!r}")
        self.name, self.max_age_s, self._clock = name, max_age_s, clock
        self.source = SimFrameSource(arm.positions, size_px=size_px, fps=fps, clock=clock, spec=spec)
        self.threaded = fps is not None
        self._lock = threading.Lock()
        self._newest: Frame | None = None
        self._next_index = 0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False

    def set_world(self, world: World | None) -> None:
        self.source.set_world(world)

    def start(self) -> "SimCamera":
        """Start the capture thread (threaded mode only); returns self."""
        if not self.threaded:
            raise RuntimeError(f"camera {self.name!r} renders on demand (fps=None); there is no thread to start")
        if self._closed or self._thread is not None:
            raise RuntimeError(f"camera {self.name!r} is {'closed' if self._closed else 'already started'}")
        self._thread = threading.Thread(target=self._run, name=f"vla-lite-simcam-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            while True:
                image, t_s = self.source.grab_timed()
                if image is None:
                    return
                self._publish(image, t_s)
        except BaseException as exc:  # reported by read(): the loop then holds on StaleFrame
            self._error = exc

    def _publish(self, image: np.ndarray, t_s: float) -> Frame:
        with self._lock:
            frame = Frame(image, t_s, self._next_index)
            self._newest, self._next_index = frame, self._next_index + 1
        return frame

    def capture_once(self) -> Frame:
        """Render one frame now and make it the newest (what the capture thread does each period). Not while the
        capture thread runs: the renderer belongs to one thread."""
        if self._thread is not None:
            raise RuntimeError(f"camera {self.name!r} is capturing in its thread; read() the newest frame instead")
        return self._publish(*self.source.render_now())

    def read(self, max_age_s: float | None = None) -> Frame:
        if self._closed:
            raise StaleFrame(f"camera {self.name!r} is closed")
        if not self.threaded:
            return self._publish(*self.source.render_now())
        max_age_s = self.max_age_s if max_age_s is None else max_age_s
        with self._lock:
            frame = self._newest
        return fresh_or_stale(self.name, frame, self._error, self._clock(), max_age_s)

    def close(self) -> None:
        """Stop and join the capture thread. Safe to call twice."""
        self._closed = True
        self.source.close()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
