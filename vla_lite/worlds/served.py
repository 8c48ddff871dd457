"""What the worlds share: a controller served on a pty with cameras beside it, and the check of an env's step.

`ServedWorld` is the life cycle the rigs have (start the arm server, the capture threads, the first episode;
close everything if any of that fails), the controller's `port` and the lockstep `step_now`. A rig sets
`self.server` (an ArmServer, or the SO-101's servo-bus PtyServer, whose rig has its own step_now) and
`self.cameras` (name -> RenderedCamera) and calls `_start()`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class TaskEpisode(NamedTuple):
    """An episode of a world with named tasks (Meta-World, the SO-101): results are grouped by task."""

    seed: int
    task: str
    instruction: str  # what the policy is told
    split: str

    @property
    def target(self) -> str:
        """The task: what evaluation groups results by."""
        return self.task


class ServedWorld:
    """Mixin for a World whose controller an ArmServer serves (self.server) and whose cameras are self.cameras."""

    bus_profile: str | None = None  # the vla-lite protocol on `port` (a servo-bus world names its arm profile)
    calibration = None  # only a servo-bus world has a joint calibration (an ArmCalibration)
    lockstep_peer = None  # a servo-bus world stepped in lockstep: its bus's far end, which the host keeps pace with

    def _start(self, camera_fps: float | None, seed: int | None) -> None:
        """Serve the controller, start the cameras' capture threads (camera_fps given) and, with a seed, the first
        episode; on any failure close what was opened and raise."""
        try:
            self.server.start()
            if camera_fps is not None:
                for cam in self.cameras.values():
                    cam.start()
            if seed is not None:  # the first episode at once: `rig.episode.instruction` is what to tell the policy
                self.new_episode(seed)
        except BaseException:
            self.close()
            raise

    @property
    def port(self) -> str:
        """The pty path a host opens (pyserial / ArmLink.open)."""
        return self.server.port

    def step_now(self) -> None:
        """Lockstep: advance the controller to clock() now, in the server's loop thread."""
        self.server.step_now()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def checked_action(values, names, low, high, what: str, value_label: str = "") -> np.ndarray:
    """An env's step input as (len(names),) float64 inside [low, high] (NaN fails too); ValueError naming the bad
    value and what to do. `what` names the whole input, `value_label` follows each name ("target")."""
    a = np.asarray(values, np.float64)
    if a.shape != (len(names),):
        raise ValueError(f"{what} must have shape ({len(names)},) for {tuple(names)}, got {a.shape}")
    for i, name in enumerate(names):
        if not low[i] <= a[i] <= high[i]:
            raise ValueError(f"{name}{value_label} {float(a[i])!r} outside [{low[i]:.6g}, {high[i]:.6g}]; "
                             "clip to env.low/env.high as the runtime's safety filter does")
    return a
