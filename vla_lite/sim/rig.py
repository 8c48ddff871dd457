"""`SimRig`: the simulated tabletop wired for the runtime, so `vla-lite run --port sim` needs no hardware.

One VirtualArm (the SCARA, EE_DELTA included) served on a new pty by an ArmServer, and a SimCamera rendering the
world with that arm. The host opens `rig.port` like any serial port. `new_episode(seed)` lays out a new table and
teleports the arm home; `success()` / `failed()` / `done()` judge from `arm.positions()` each time they are called,
so a driver calls `done()` once per control tick.

Lockstep: give an injected clock (a fake one the driver moves forward); the server, the arm and the camera all use
it. After moving the clock, call `step_now()` so the arm integrates to that time in the server's thread before
the driver reads anything; an on-demand camera (camera_fps=None) then shows the arm at exactly that time.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ..firmware_bridge.arm_server import ArmServer
from ..firmware_bridge.virtual_arm import VirtualArm
from .camera import SimCamera
from .kinematics import ScaraKinematics, scara_arm
from .world import TABLE, Episode, TableSpec, TouchJudge, make_episode


class SimRig:
    """The arm server, the camera and the episode judge; `seed` given: the first episode starts at once."""

    def __init__(self, *, seed: int | None = None, n_blocks: int = 3, size_px: int = 96, camera_name: str = "front",
                 camera_fps: float | None = None, max_frame_age_s: float = 0.5, max_episode_s: float = 10.0,
                 split: str = "train", clock: Callable[[], float] = time.monotonic, link_path: str | None = None,
                 watchdog_ms: int = 100, torque_off_ms: int = 2000, spec: TableSpec = TABLE):
        if not max_episode_s > 0:
            raise ValueError(f"max_episode_s must be > 0 s, got {max_episode_s!r}")
        self.n_blocks, self.split, self.spec, self.max_episode_s = n_blocks, split, spec, max_episode_s
        self.clock = clock
        self.config = scara_arm(spec.geometry, watchdog_ms=watchdog_ms, torque_off_ms=torque_off_ms)
        self.arm = VirtualArm(self.config, np.array(spec.home), ScaraKinematics(spec.geometry), now_s=clock())
        self.camera = SimCamera(self.arm, name=camera_name, size_px=size_px, fps=camera_fps,
                                max_age_s=max_frame_age_s, clock=clock, spec=spec)
        self.server = ArmServer.on_pty(self.arm, link_path, clock=clock)
        try:
            self.server.start()
            if camera_fps is not None:
                self.camera.start()
        except BaseException:
            self.close()
            raise
        self.episode: Episode | None = None
        self._judge: TouchJudge | None = None
        self._t_start_s = 0.0
        if seed is not None:  # the first episode at once: `rig.episode.instruction` is what to tell the policy
            try:
                self.new_episode(seed)
            except BaseException:
                self.close()
                raise

    @property
    def port(self) -> str:
        """The pty path a host opens (pyserial / ArmLink.open)."""
        return self.server.port

    def new_episode(self, seed: int) -> Episode:
        """A new layout and target from seed; the arm teleported home (motion stops; latched faults stay)."""
        episode = make_episode(seed, self.n_blocks, self.split, self.spec)
        self.arm.reset(np.array(self.spec.home))
        self.camera.set_world(episode.world)
        self.episode, self._judge = episode, TouchJudge(episode.world)
        self._t_start_s = self.clock()
        self._judge.observe(self.arm.positions())
        return episode

    def step_now(self) -> None:
        """Lockstep: integrate the arm to clock() now, in the server's loop thread."""
        self.server.step_now()

    def _judged(self) -> TouchJudge:
        if self._judge is None:
            raise RuntimeError("no episode yet: call new_episode(seed) first")
        self._judge.observe(self.arm.positions())
        return self._judge

    def success(self) -> bool:
        """The target block was the first one touched."""
        return self._judged().success

    def failed(self) -> bool:
        """Another block was touched first."""
        return self._judged().failed

    def elapsed_s(self) -> float:
        return self.clock() - self._t_start_s

    def done(self) -> bool:
        """Success, failure or max_episode_s since new_episode()."""
        judge = self._judged()
        return judge.touched is not None or self.elapsed_s() >= self.max_episode_s

    def outcome(self) -> str:
        """"success", "failed", "timeout" or "running"."""
        judge = self._judged()
        if judge.touched is not None:
            return "success" if judge.success else "failed"
        return "timeout" if self.elapsed_s() >= self.max_episode_s else "running"

    def close(self) -> None:
        """Stop the camera thread and the server, close the pty. Safe to call twice."""
        self.camera.close()
        self.server.close()

    def __enter__(self) -> "SimRig":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
