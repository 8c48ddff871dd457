"""`SO101Camera`: a RenderedCamera (vla_lite.cameras.rendered) of the SO-101 world, "front" or "wrist" as LeRobot's
SO-101 set-ups name them: on demand (fps None, lockstep: the frame shows the world at the driver's time) or
threaded (the shared capture thread renders at fps on the clock).

The world is stepped by the servo bus's thread; a frame is rendered holding the rig's lock, so it never shows half
a physics step. MuJoCo's GL contexts belong to the thread that made them: one SO101Renderer per rendering thread.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

import numpy as np

from ...cameras.rendered import PerThread, RenderedCamera
from .render import CAMERAS, SO101Renderer


class SO101Camera(RenderedCamera):
    def __init__(self, world, lock: threading.Lock, *, name: str = "front", size_px: int = 96,
                 fps: float | None = None, max_age_s: float = 0.5, clock: Callable[[], float] = time.monotonic):
        if name not in CAMERAS:
            raise ValueError(f"camera {name!r} is not an SO-101 camera; the so101-sim world renders {list(CAMERAS)}")
        super().__init__(name, fps=fps, max_age_s=max_age_s, clock=clock)
        self.world, self.lock, self.size_px = world, lock, int(size_px)
        self._renderers = PerThread(lambda: SO101Renderer(self.world.model, self.size_px))  # GL contexts per thread

    def render(self) -> tuple[np.ndarray, float]:
        renderer = self._renderers.get()
        with self.lock:  # no physics step meanwhile: the frame shows the world at t_s
            image = renderer.render(self.world.data, self.name)
            t_s = self.clock()
        return image, t_s

    def close(self) -> None:
        """Stop and join the capture thread; free the renderers. Safe to call twice."""
        super().close()
        self._renderers.close_all()
