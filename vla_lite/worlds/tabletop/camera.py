"""`SimCamera`: the Camera protocol over the rendered tabletop, with the arm where a VirtualArm says it is.

A RenderedCamera (vla_lite.cameras.rendered): on demand (fps None: `read()` renders there and then, t_capture_s =
clock(); lockstep evaluation with an injected clock) or threaded (fps given: `start()` runs the shared capture
thread, paced to frame times on the clock; `read()` returns the newest frame, StaleFrame past max_age_s).
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from ...cameras.rendered import RenderedCamera
from .world import TABLE, TableSpec, World


class SimCamera(RenderedCamera):
    """The top-down camera of the tabletop; `set_world()` (any thread) changes the blocks it shows."""

    def __init__(self, arm, *, name: str = "front", size_px: int = 96, fps: float | None = None,
                 max_age_s: float = 0.5, clock: Callable[[], float] = time.monotonic, spec: TableSpec = TABLE):
        from .render import Renderer  # OpenCV: loaded when a camera is made, not when the world is imported

        super().__init__(name, fps=fps, max_age_s=max_age_s, clock=clock)
        self.renderer = Renderer(size_px, spec)  # used by one thread at a time: the capture thread or the reader
        self._positions = arm.positions
        self._world: World | None = None
        self._world_lock = threading.Lock()

    def set_world(self, world: World | None) -> None:
        with self._world_lock:
            self._world = world

    def render(self) -> tuple[np.ndarray, float]:
        """(image, capture time): the arm's positions are read at that time."""
        with self._world_lock:
            world = self._world
        t_s = self.clock()
        return self.renderer.render(world, self._positions()), t_s
