"""Fast RGB frames of the SO-101 world's cameras: "front" (across the table, facing the arm) and "wrist" (on the
gripper, looking down the fingers), the names LeRobot's SO-101 set-ups give them.

MuJoCo's defaults (multisampling, 4096² shadow maps, reflections) cost tens of ms per frame with software EGL;
here multisampling is off (model.vis.quality.offsamples = 0, read when the GL context is made) and shadows and
reflections are off, and the arm draws ~3.5k triangles: ~1.2 ms of CPU per 96 px frame on one core
(benchmarks/bench_so101_render.py). With Mesa's software rasteriser on a one-core budget, LP_NUM_THREADS=0 in the
environment (before the first render) rasterises in the calling thread instead of handing each frame to a helper
thread. MuJoCo's GL context belongs to the thread that made it: a renderer renders in the thread that built it.
"""

from __future__ import annotations

import numpy as np

from .scene import import_mujoco

CAMERAS = ("front", "wrist")


class SO101Renderer:
    """`render(data, camera) -> (H, W, 3) uint8 RGB`; one per model and thread. `close()` frees the GL context."""

    def __init__(self, model, size_px: int = 96, height_px: int | None = None):
        height_px = size_px if height_px is None else height_px
        for name, v in (("size_px", size_px), ("height_px", height_px)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 16 <= v <= 1024:
                raise ValueError(f"image {name} must be an integer in [16, 1024] px, got {v!r}")
        mj = import_mujoco()
        self._mj, self.model = mj, model
        model.vis.quality.offsamples = 0  # no multisampling
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), int(size_px))
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), int(height_px))
        self._renderer = mj.Renderer(model, int(height_px), int(size_px))
        self._renderer.scene.flags[mj.mjtRndFlag.mjRND_SHADOW] = False
        self._renderer.scene.flags[mj.mjtRndFlag.mjRND_REFLECTION] = False
        self._cameras = {}
        for name in CAMERAS:
            cam = model.camera(name).id if _has_camera(model, name) else None
            if cam is None:
                raise ValueError(f"the model has no camera {name!r}; an SO-101 scene has {list(CAMERAS)}")
            self._cameras[name] = cam
        self.size_px, self.height_px = int(size_px), int(height_px)

    def render(self, data, camera: str = "front") -> np.ndarray:
        """The camera's view of `data` now: (height_px, size_px, 3) uint8 RGB."""
        cam = self._cameras.get(camera)
        if cam is None:
            raise ValueError(f"camera {camera!r} is not an SO-101 camera; expected one of {list(CAMERAS)}")
        self._renderer.update_scene(data, camera=cam)
        return self._renderer.render()

    def render_world(self, world, camera: str = "front") -> np.ndarray:
        return self.render(world.data, camera)

    def close(self) -> None:
        """Free the GL context. Safe to call twice."""
        renderer, self._renderer = self._renderer, None
        if renderer is not None:
            renderer.close()

    def __enter__(self) -> "SO101Renderer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _has_camera(model, name: str) -> bool:
    try:
        model.camera(name)
    except KeyError:
        return False
    return True
