"""Rendering a Meta-World scene fast, upright, and as a Camera (vla_lite.cameras.base) for the runtime.

`SceneRenderer`: Meta-World's default rendering runs at 10-17 fps at any size (4096² shadow maps, multisampling,
reflections); with offsamples 0 and shadows and reflections off it is several times faster at 64-128 px
(benchmarks/bench_metaworld_sim.py). The view is a free MuJoCo camera (z up in the image, so nothing is upside
down as Meta-World's corner cameras are) from the front right of the table, showing the hand, the task's objects
and the goal. MuJoCo's GL contexts (EGL) belong to the thread that made them: a SceneRenderer renders only in the
thread that first used it.

Named views (VIEWS): "front" and "side"; a bundle's camera names choose which the rig renders.

`MetaWorldCamera` has SimCamera's two modes: on demand (fps None: `read()` renders there and then, one renderer
per calling thread; lockstep) or threaded (`start()`: a capture thread renders at fps on the injected clock;
`read()` returns the newest frame and raises StaleFrame past max_age_s).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..cameras.base import Frame, StaleFrame, fresh_or_stale

POLL_S = 0.005  # real seconds between looks at an injected clock that has not reached the next frame time
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


class MetaWorldCamera:
    """Camera protocol over a MetaWorldController's scene; see the module docstring."""

    def __init__(self, controller, *, name: str = "front", size_px: int = 96, fps: float | None = None,
                 max_age_s: float = 0.5, clock: Callable[[], float] = time.monotonic, view: CameraView = FRONT):
        if fps is not None and not 0 < fps <= 1000:
            raise ValueError(f"camera fps must be in (0, 1000], got {fps!r}")
        if not max_age_s > 0:
            raise ValueError(f"max_age_s must be > 0 s, got {max_age_s!r}")
        self.name, self.max_age_s, self._clock = name, max_age_s, clock
        self.controller, self.size_px, self.view = controller, size_px, view
        self.threaded = fps is not None
        self.period_s = None if fps is None else 1.0 / fps
        self._on_demand: dict[int, SceneRenderer] = {}  # thread id -> renderer (GL contexts are per thread)
        self._lock = threading.Lock()
        self._newest: Frame | None = None
        self._next_index = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.frames_late = 0  # threaded: frame times missed by more than a period (skipped, not made up)

    def _render(self, renderer: SceneRenderer) -> Frame:
        self.controller.with_scene(renderer.update)
        t_s = self._clock()  # the scene as of now: no step ran since update
        image = renderer.render()
        with self._lock:
            frame = Frame(image, t_s, self._next_index)
            self._newest, self._next_index = frame, self._next_index + 1
        return frame

    def start(self) -> "MetaWorldCamera":
        """Start the capture thread (threaded mode only); returns self."""
        if not self.threaded:
            raise RuntimeError(f"camera {self.name!r} renders on demand (fps=None); there is no thread to start")
        if self._closed or self._thread is not None:
            raise RuntimeError(f"camera {self.name!r} is {'closed' if self._closed else 'already started'}")
        self._thread = threading.Thread(target=self._run, name=f"vla-lite-mwcam-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        renderer = SceneRenderer(self.size_px, self.view)  # made, used and freed in this thread
        try:
            next_s = self._clock()
            while not self._stop.is_set():
                now = self._clock()
                if now < next_s:
                    self._stop.wait(min(next_s - now, POLL_S))
                    continue
                self._render(renderer)
                next_s += self.period_s
                if next_s <= now:  # more than a period behind: resume from now rather than burst
                    self.frames_late += 1
                    next_s = now + self.period_s
        except BaseException as exc:  # reported by read(): the loop then holds on StaleFrame
            self._error = exc
        finally:
            renderer.close()

    def capture_once(self) -> Frame:
        """Render one frame now (on-demand mode) and make it the newest."""
        if self.threaded:
            raise RuntimeError(f"camera {self.name!r} captures in its thread; read() the newest frame instead")
        if self._closed:
            raise StaleFrame(f"camera {self.name!r} is closed")
        with self._lock:
            renderer = self._on_demand.get(threading.get_ident())
            if renderer is None:
                renderer = self._on_demand[threading.get_ident()] = SceneRenderer(self.size_px, self.view)
        return self._render(renderer)

    def read(self, max_age_s: float | None = None) -> Frame:
        if not self.threaded:
            return self.capture_once()
        if self._closed:
            raise StaleFrame(f"camera {self.name!r} is closed")
        max_age_s = self.max_age_s if max_age_s is None else max_age_s
        with self._lock:
            frame = self._newest
        return fresh_or_stale(self.name, frame, self._error, self._clock(), max_age_s)

    def wait(self, after_index: int = -1, timeout_s: float = 5.0) -> Frame:
        """A frame newer than after_index: on demand, rendered now; threaded, waited for (real time)."""
        if not self.threaded:
            return self.capture_once()
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                frame = self._newest
            if frame is not None and frame.index > after_index:
                return frame
            if self._error is not None or self._closed or time.monotonic() >= deadline:
                raise StaleFrame(f"camera {self.name!r}: no frame after index {after_index} within "
                                 f"{timeout_s:g} s" + (f" ({self._error})" if self._error else ""))
            time.sleep(POLL_S)

    def close(self) -> None:
        """Stop and join the capture thread; free the renderer. Safe to call twice."""
        self._closed = True
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)
        with self._lock:
            renderers, self._on_demand = list(self._on_demand.values()), {}
        for r in renderers:
            r.close()
