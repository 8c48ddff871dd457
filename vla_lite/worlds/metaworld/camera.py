"""Rendering a Meta-World scene fast, upright, and as a Camera (vla_lite.cameras.base) for the runtime.

`SceneRenderer`: Meta-World's default rendering runs at 10-17 fps at any size (4096² shadow maps, multisampling,
reflections); with offsamples 0 and shadows and reflections off it is several times faster at 64-128 px
(benchmarks/bench_metaworld_sim.py). The view is a free MuJoCo camera (z up in the image, so nothing is upside
down as Meta-World's corner cameras are) from the front right of the table, showing the hand, the task's objects
and the goal. MuJoCo's GL contexts (EGL) belong to the thread that made them: a SceneRenderer renders only in the
thread that first used it.

Named views (VIEWS): "front" and "side"; a bundle's camera names choose which the rig renders.

`MetaWorldCamera` is a RenderedCamera (vla_lite.cameras.rendered), as the tabletop's: on demand (fps None:
`read()` renders there and then; lockstep) or threaded (`start()`: the shared capture thread renders at fps on
the injected clock; `read()` returns the newest frame and raises StaleFrame past max_age_s). One renderer per
thread that renders (GL contexts belong to the thread that made them).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...cameras.rendered import PerThread, RenderedCamera

_OPEN: "weakref.WeakSet[SceneRenderer]" = weakref.WeakSet()  # freed at exit if their owner forgot close()


def _close_open_renderers() -> None:
    for r in list(_OPEN):
        r.close()  # before interpreter teardown, when MuJoCo's own __del__ can no longer reach EGL


@dataclass(frozen=True)
class CameraView:
    lookat_m: tuple[float, float, float] = (0.0, 0.72, 0.10)  # table centre, a little above it
    distance_m: float = 1.25
    azimuth_deg: float = 140.0  # from the front right of the table (the arm's base is at the back)
    elevation_deg: float = -35.0  # looking down


FRONT = CameraView()
# From the arm's left at table height: 140 deg round from FRONT, so the two views together fix a point in 3-D (the
# floating reach goal is a ray in one image and a dot with no shadow to place it).
SIDE = CameraView(lookat_m=(0.0, 0.65, 0.12), distance_m=1.15, azimuth_deg=0.0, elevation_deg=-25.0)
VIEWS: dict[str, CameraView] = {"front": FRONT, "side": SIDE}  # camera name -> view


def view_named(name: str) -> CameraView:
    """The view a Meta-World camera of this name shows; ValueError naming the known views."""
    view = VIEWS.get(name)
    if view is None:
        raise ValueError(f"camera {name!r} is not a Meta-World view; the Meta-World rig renders {list(VIEWS)}")
    return view


def views_named(names) -> dict[str, CameraView]:
    """name -> view for one or more distinct camera names (a str is one name); ValueError naming the bad one."""
    names = (names,) if isinstance(names, str) else tuple(names)
    if not names or len(set(names)) != len(names):
        raise ValueError(f"views must name one or more distinct Meta-World views, got {names!r}")
    return {name: view_named(name) for name in names}


class SceneRenderer:
    """(size, size, 3) uint8 RGB images of TaskScenes; one MuJoCo renderer per task model, made on first use."""

    def __init__(self, size_px: int = 96, view: CameraView = FRONT):
        if isinstance(size_px, bool) or not isinstance(size_px, int) or not 16 <= size_px <= 1024:
            raise ValueError(f"image size must be an integer in [16, 1024] px, got {size_px!r}")
        from .scene import import_metaworld

        _, self._mujoco = import_metaworld()
        self.size_px, self.view = size_px, view
        cam = self._mujoco.MjvCamera()
        cam.type = self._mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = view.lookat_m
        cam.distance, cam.azimuth, cam.elevation = view.distance_m, view.azimuth_deg, view.elevation_deg
        self.camera = cam
        self._renderers: dict[int, object] = {}  # id(model) -> mujoco.Renderer
        self._models: dict[int, object] = {}  # keeps each model alive while its renderer exists
        self._current = None
        self._thread: threading.Thread | None = None

    def update(self, scene) -> None:
        """Copy the scene's geometry for the next render(). Call it where the physics cannot step (the
        controller's with_scene); the render itself then runs without holding anything."""
        mj = self._mujoco
        if self._thread is None:
            self._thread = threading.current_thread()
        elif self._thread is not threading.current_thread():
            raise RuntimeError(f"SceneRenderer used from thread {threading.current_thread().name!r}; its GL "
                               f"contexts belong to {self._thread.name!r}")
        model = scene.model
        r = self._renderers.get(id(model))
        if r is None:
            model.vis.quality.offsamples = 0  # no multisampling: read when the GL context is made
            model.vis.quality.shadowsize = 64  # shadows are off: no 4096² (64 MB) shadow map; same pixels
            r = mj.Renderer(model, self.size_px, self.size_px)
            r.scene.flags[mj.mjtRndFlag.mjRND_SHADOW] = False
            r.scene.flags[mj.mjtRndFlag.mjRND_REFLECTION] = False
            self._renderers[id(model)], self._models[id(model)] = r, model
            if not _OPEN:
                atexit.unregister(_close_open_renderers)  # registered once, however many renderers come and go
                atexit.register(_close_open_renderers)
            _OPEN.add(self)
        r.update_scene(scene.data, camera=self.camera)
        self._current = r

    def render(self) -> np.ndarray:
        if self._current is None:
            raise RuntimeError("render() before update(scene)")
        return self._current.render()

    def render_scene(self, scene) -> np.ndarray:
        """update + render, for a scene no other thread steps (MetaWorldEnv)."""
        self.update(scene)
        return self.render()

    def close(self) -> None:
        """Free the GL contexts. Safe to call twice."""
        renderers, self._renderers, self._models, self._current = self._renderers, {}, {}, None
        _OPEN.discard(self)
        for r in renderers.values():
            try:
                r.close()
            except Exception:  # best effort: a context another thread still holds is freed with the process
                pass


class MetaWorldCamera(RenderedCamera):
    """Camera protocol over a MetaWorldController's scene; see the module docstring."""

    def __init__(self, controller, *, name: str = "front", size_px: int = 96, fps: float | None = None,
                 max_age_s: float = 0.5, clock: Callable[[], float] = time.monotonic, view: CameraView = FRONT):
        super().__init__(name, fps=fps, max_age_s=max_age_s, clock=clock)
        self.controller, self.size_px, self.view = controller, size_px, view
        self._renderers = PerThread(lambda: SceneRenderer(self.size_px, self.view))  # GL contexts are per thread

    def render(self) -> tuple[np.ndarray, float]:
        renderer = self._renderers.get()
        self.controller.with_scene(renderer.update)
        t_s = self.clock()  # the scene as of now: no step ran since update
        return renderer.render(), t_s

    def close(self) -> None:
        """Stop and join the capture thread; free the renderers. Safe to call twice."""
        super().close()
        self._renderers.close_all()
