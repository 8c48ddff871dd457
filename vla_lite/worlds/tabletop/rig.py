"""`SimRig`: the simulated tabletop as a World (vla_lite.worlds.base), so `vla-lite run --port sim` needs no
hardware.

One VirtualArm (the SCARA, EE_DELTA included) served on a new pty by an ArmServer, and a SimCamera rendering the
world with that arm. The host opens `rig.port` like any serial port. `new_episode(seed)` lays out a new table and
teleports the arm home; `success()` / `failed()` / `done()` judge from `arm.positions()` each time they are called,
so a driver calls `done()` once per control tick. `open_world` is what the port registry calls for `--port sim`.

Lockstep: give an injected clock (a fake one the driver moves forward); the server, the arm and the camera all use
it. After moving the clock, call `step_now()` so the arm integrates to that time in the server's thread before
the driver reads anything; an on-demand camera (camera_fps=None) then shows the arm at exactly that time.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import Callable

import numpy as np

from ...firmware_bridge.arm_server import ArmServer
from ...firmware_bridge.virtual_arm import VirtualArm
from ..base import Outcome, WorldOptions
from ..served import ServedWorld
from .camera import SimCamera
from .instructions import COLOUR_SYNONYMS, COLOURS
from .kinematics import ScaraKinematics, scara_arm
from .world import TABLE, Episode, TableSpec, TouchJudge, make_episode


class SimRig(ServedWorld):
    """The arm server, the camera and the episode judge; `seed` given: the first episode starts at once."""

    reports_per_target = False  # the target colour changes every episode: evaluation reports success overall
    target_groups: dict[str, tuple[str, ...]] = {}

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
        self.episode: Episode | None = None
        self._judge: TouchJudge | None = None
        self._t_start_s = 0.0
        self._start(camera_fps, seed)

    def new_episode(self, seed: int, instruction: str | None = None, colour: str | None = None) -> Episode:
        """A new layout and target from seed; the arm teleported home (motion stops; latched faults stay).
        `colour`, or the one a user's `instruction` names, makes that colour's block the target, repainting the
        seeded target if the colour is not on the table."""
        if colour is None and instruction is not None:
            colour = instruction_colour(instruction)
        episode = make_episode(seed, self.n_blocks, self.split, self.spec)
        if colour is not None:
            episode = episode._replace(world=with_target(episode.world, colour))
        self.arm.reset(np.array(self.spec.home))
        self.camera.set_world(episode.world)
        self.episode, self._judge = episode, TouchJudge(episode.world)
        self._t_start_s = self.clock()
        self._judge.observe(self.arm.positions())
        return episode

    def retarget(self, instruction: str) -> str | None:
        """The instruction changed mid-episode: judge success against the colour it names. Returns a note for the
        user when it names no colour, or one that is not on the table (the target stays as it was)."""
        colour = instruction_colour(instruction)
        if self.episode is None or colour is None:
            return f"{instruction!r} names no block colour the simulated world knows ({', '.join(COLOURS)}); " \
                   "success is judged against the episode's own target"
        index = [b.colour for b in self.episode.world.blocks]
        if colour not in index:
            return f"there is no {colour} block on the table ({', '.join(index)}); the target is unchanged"
        world = dataclasses.replace(self.episode.world, target=index.index(colour))
        self.episode = self.episode._replace(world=world)
        self._judge = TouchJudge(world)
        self.camera.set_world(world)
        return None

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

    def outcome(self) -> Outcome:
        judge = self._judged()
        if judge.touched is not None:
            return Outcome.SUCCESS if judge.success else Outcome.FAILED
        return Outcome.TIMEOUT if self.elapsed_s() >= self.max_episode_s else Outcome.RUNNING

    @property
    def cameras(self) -> dict:
        """camera name -> camera: the one top-down camera."""
        return {self.camera.name: self.camera}

    def close(self) -> None:
        """Stop the camera thread and the server, close the pty. Safe to call twice."""
        self.camera.close()
        self.server.close()


def open_world(arg: str, options: WorldOptions) -> SimRig:
    """`--port sim` (vla_lite.ports): the tabletop, rendering the bundle's one camera."""
    if arg:
        raise ValueError(f"--port sim takes no argument, got sim:{arg}; the tabletop is one world")
    if len(options.camera_names) != 1:
        raise ValueError(f"the simulated tabletop (--port sim) has one camera; the bundle needs "
                         f"{len(options.camera_names)}: {list(options.camera_names)}")
    return SimRig(max_episode_s=options.episode_timeout_s, camera_name=options.camera_names[0],
                  size_px=options.size_px, camera_fps=options.camera_fps, max_frame_age_s=options.max_frame_age_s,
                  split=options.split, clock=options.clock)


class LinkedScene:
    """`--camera sim` on a real port (`vla-lite sim-arm --arm tabletop`, or a SCARA of your own): the tabletop's
    blocks of one seeded layout rendered by a SimCamera with the arm where the controller says it is (`positions()`:
    the joints of the link's newest STATE, None before the first). No judge: on a real port the run is one episode.
    `retarget(instruction)` puts the block colour an instruction names on the table, as the simulated world does."""

    def __init__(self, camera_name: str, options: WorldOptions, positions: Callable[[], tuple | None],
                 seed: int = 0, spec: TableSpec = TABLE):
        self.spec, self.world = spec, make_episode(seed, 3, options.split, spec).world
        home = np.array(spec.home)
        reported = _Reported(lambda: home if (q := positions()) is None else np.asarray(q, np.float64))
        self.camera = SimCamera(reported, name=camera_name, size_px=options.size_px, fps=options.camera_fps,
                                max_age_s=options.max_frame_age_s, clock=options.clock, spec=spec)
        self.camera.set_world(self.world)
        if options.camera_fps is not None:
            self.camera.start()

    def retarget(self, instruction: str) -> str | None:
        """Show the block the instruction names (repainting the layout's target when that colour is absent)."""
        colour = instruction_colour(instruction)
        if colour is None:
            return f"{instruction!r} names no block colour the simulated camera knows ({', '.join(COLOURS)}); " \
                   "the table is unchanged"
        self.world = with_target(self.world, colour)
        self.camera.set_world(self.world)
        return None

    def close(self) -> None:
        self.camera.close()


class _Reported:
    """What SimCamera reads the arm from: `positions()` (n_joints,) in rad/m."""

    def __init__(self, positions: Callable[[], np.ndarray]):
        self.positions = positions


def open_scene(arg: str, camera_name: str, options: WorldOptions, positions: Callable[[], tuple | None],
               seed: int = 0) -> LinkedScene:
    """`--camera sim` on a real port (vla_lite.ports): the tabletop rendered over the controller's reported arm."""
    if arg:
        raise ValueError(f"--camera sim takes no argument, got sim:{arg}; the layout follows --seed")
    return LinkedScene(camera_name, options, positions, seed)


_COLOUR_WORDS = {w: c for c in COLOURS for w in (c, *COLOUR_SYNONYMS.get(c, ()))}


def instruction_colour(text: str) -> str | None:
    """The block colour an instruction names ("crimson" counts as red), or None when it names none or several."""
    found = {_COLOUR_WORDS[w] for w in re.findall(r"[a-z]+", text.lower()) if w in _COLOUR_WORDS}
    return found.pop() if len(found) == 1 else None


def with_target(world, colour: str):
    """`world` with the `colour` block as target; if absent, the seeded target block is repainted that colour."""
    if colour not in COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {sorted(COLOURS)}")
    colours = [b.colour for b in world.blocks]
    if colour in colours:
        return dataclasses.replace(world, target=colours.index(colour))
    blocks = list(world.blocks)
    blocks[world.target] = dataclasses.replace(blocks[world.target], colour=colour)
    return dataclasses.replace(world, blocks=tuple(blocks))
