"""What the runtime and the evaluator need from a simulated world: the `World` protocol and how one is opened.

A world is a stand-in for the robot and its room. Its arm controller speaks the vla-lite protocol on a port the
runtime opens like any serial port (a pty) -- or, when `bus_profile` names a servo-bus arm profile (the SO-101:
"so101"), that port is a servo bus of that profile, to be driven with `calibration` (an ArmCalibration) -- it
renders the cameras a bundle names, and it judges episodes: a new layout from a seed, done or not after each tick,
and how it ended. The runtime and `vla-lite eval` use only the methods below, never a world's own classes; a world
is chosen by its port scheme (vla_lite.ports).

Time: everything runs on the injected `clock` (WorldOptions.clock). Real time: the controller and the cameras run
in their own threads. Lockstep (evaluation): the driver moves a fake clock one period, then calls `step_now()`, so
the controller integrates to that time before anything is read; on-demand cameras (camera_fps None) then show
the world at exactly that time.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, runtime_checkable

from ..cameras.base import Camera

if TYPE_CHECKING:
    from ..calib.arm_calibration import ArmCalibration


class Outcome(str, enum.Enum):
    """How an episode ended. A str, so results compare with and serialise as "success", "timeout", ..."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"  # the world's own failure rule (the tabletop: another block touched first)
    TIMEOUT = "timeout"

    __str__ = str.__str__  # "success" in messages and f-strings, as the plain strings it replaces
    __format__ = str.__format__


@runtime_checkable
class Episode(Protocol):
    """One episode as the world set it up."""

    seed: int
    instruction: str  # what the policy is told

    @property
    def target(self) -> str:
        """What results are grouped by: the tabletop's target colour, a Meta-World task."""


@runtime_checkable
class World(Protocol):
    """A simulated world behind the vla-lite protocol; see the module docstring."""

    reports_per_target: bool  # evaluation reports success per target too (Meta-World's tasks), not only overall
    bus_profile: str | None  # None: `port` speaks the vla-lite protocol; else the servo-bus arm profile ("so101")
    calibration: "ArmCalibration | None"  # a servo bus's joint calibration (counts <-> rad / fraction); else None
    # a servo bus stepped in lockstep: its far end (firmware_bridge.servo.lockstep.LockstepPeer), whose pace the
    # host's bus keeps instead of the wire's; else None
    lockstep_peer: object | None
    # groups of targets evaluation also reports success by (Meta-World: LeRobot's difficulty groups); {}: none
    target_groups: Mapping[str, tuple[str, ...]]

    @property
    def port(self) -> str:
        """The port its arm controller is served on (a pty path): opened with vla_lite.firmware_bridge ArmLink, or,
        with a bus_profile, a servo bus opened with that profile and driven through `calibration`."""

    @property
    def cameras(self) -> Mapping[str, Camera]:
        """Camera name -> Camera, named as WorldOptions.camera_names (the bundle's cameras)."""

    @property
    def episode(self) -> Episode | None:
        """The current episode; None before the first new_episode()."""

    def new_episode(self, seed: int, instruction: str | None = None) -> Episode:
        """A new layout from `seed`, the arm back at its start. `instruction` (a user's own) picks the episode it
        asks for (the block colour, the task) where the world can tell; None: the seed decides."""

    def retarget(self, instruction: str) -> str | None:
        """The instruction changed mid-episode: judge by what it asks for. Returns a note for the user when the
        world cannot (it names nothing the world knows), else None."""

    def step_now(self) -> None:
        """Lockstep: advance the controller to clock() now, in its own thread; returns when done."""

    def done(self) -> bool:
        """The episode has ended (judged now, from the controller's state)."""

    def outcome(self) -> Outcome:
        """How it ended, or Outcome.RUNNING."""

    def elapsed_s(self) -> float:
        """Clock seconds since new_episode()."""

    def close(self) -> None:
        """Stop the controller and the cameras, close the port. Safe to call twice."""


@dataclass(frozen=True)
class WorldOptions:
    """How the runtime wants a world opened (what is not in the port string)."""

    camera_names: tuple[str, ...] = ("front",)  # the bundle's cameras, rendered under these names
    size_px: int = 96  # square images, as the bundle's cameras are
    camera_fps: float | None = 30.0  # None: render on demand in read() (lockstep evaluation)
    max_frame_age_s: float = 0.5
    split: str = "train"  # phrasings of the episodes' instructions: "train", "paraphrase" or "heldout"
    episode_timeout_s: float = 10.0  # a world without its own episode length ends episodes after this
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

