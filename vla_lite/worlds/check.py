"""`check_world`: does a simulated world keep the World protocol's promises? (Gymnasium's check_env, for worlds.)

The tests run it over every world registered in vla_lite.ports; the author of a new world runs it on theirs:

    from vla_lite.evaluate import SimClock
    clock = SimClock()
    options = WorldOptions(camera_names=("front",), size_px=64, camera_fps=None, episode_timeout_s=0.5, clock=clock)
    with closing(open_world("so101-sim:", options)) as world:
        check_world(world, options, advance=clock.advance)

It needs the lockstep form (an on-demand camera, camera_fps None, and a clock it can move with `advance(dt_s)`)
and raises WorldCheckError naming the first promise broken.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..firmware_bridge.link import ArmLink
from .base import Episode, Outcome, World, WorldOptions

STEP_S = 0.05  # simulated seconds per advance while waiting for the episode to end
MAX_EPISODE_S = 60.0  # simulated seconds a check waits for done() with the arm left alone


class WorldCheckError(Exception):
    """A world broke a promise of the World protocol (vla_lite.worlds.base)."""


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise WorldCheckError(what)


def check_world(world: World, options: WorldOptions, advance: Callable[[float], object], seed: int = 3) -> None:
    """Episodes, cameras, the controller's port and the end of an episode left alone; see the module docstring."""
    missing = [name for name in ("reports_per_target", "target_groups", "bus_profile", "calibration",
                                 "lockstep_peer", "port",
                                 "cameras", "episode", "new_episode", "retarget", "step_now", "done", "outcome",
                                 "elapsed_s", "close")
               if not hasattr(world, name)]
    _require(not missing and isinstance(world, World), f"{type(world).__name__} lacks {missing} of World")
    _require(list(world.cameras) == list(options.camera_names),
             f"cameras are {list(world.cameras)}; expected {list(options.camera_names)} (WorldOptions.camera_names)")
    episode = _check_episode(world, seed)
    _check_cameras(world, options)
    if world.bus_profile is None:
        link = ArmLink.open(world.port, timeout_s=5.0, clock=options.clock)
        try:
            _require(bool(link.info.joint_names), f"the controller on {world.port} announced no joints")
            _check_episode_end(world, advance)
        finally:
            link.close()
    else:
        _check_servo_bus(world)
        _check_episode_end(world, advance)
    note = world.retarget(episode.instruction)
    _require(note is None or isinstance(note, str), f"retarget() returned {note!r}; expected None or a note")
    again = world.new_episode(seed + 1, instruction=episode.instruction)
    _require(isinstance(again, Episode) and again.seed == seed + 1,
             f"new_episode(seed, instruction=...) gave {again!r}")


def _check_servo_bus(world: World) -> None:
    """A servo-bus world: in the lockstep form its bus has a far end to keep pace with (else evaluation would depend
    on the machine's load), every servo of its profile answers a sync read, and its calibration fits the profile."""
    from ..firmware_bridge.servo import BusConfig, ServoBus, load_arm
    from ..firmware_bridge.servo.lockstep import LockstepPeer

    profile = load_arm(world.bus_profile)
    cal = world.calibration
    _require(cal is not None and tuple(cal.joint_names) == tuple(s.name for s in profile.servos),
             f"calibration {cal!r:.80} does not list the joints of bus profile {world.bus_profile!r}")
    peer = world.lockstep_peer
    _require(isinstance(peer, LockstepPeer), f"lockstep_peer is {peer!r:.80} in the lockstep form; expected the "
                                             "bus's far end (firmware_bridge.servo.lockstep.LockstepPeer)")
    with ServoBus.open(world.port, profile, BusConfig(latency_s=0.02, budget_s=0.2), lockstep=peer) as bus:
        reading = bus.read_positions()
        _require(reading.all_fresh, f"the servo bus on {world.port} left {list(reading.fresh)} unread "
                                    f"(profile {world.bus_profile!r})")
        units = cal.to_units(reading.values)
        _require(bool(len(units)), "the calibration gave no joint units")


def _check_episode(world: World, seed: int) -> Episode:
    episode = world.new_episode(seed)
    _require(isinstance(episode, Episode), f"new_episode() returned {type(episode).__name__}, not an Episode")
    _require(episode.seed == seed and isinstance(episode.instruction, str) and episode.instruction.strip()
             and isinstance(episode.target, str) and episode.target,
             f"episode {episode!r}: expected seed {seed}, a non-empty instruction and target")
    _require(world.episode == episode, "world.episode is not the episode new_episode() returned")
    _require(world.outcome() is Outcome.RUNNING and not world.done() and world.elapsed_s() >= 0,
             f"a new episode is {world.outcome()!r} (done {world.done()}, elapsed {world.elapsed_s()} s); "
             "expected RUNNING")
    same = world.new_episode(seed)
    _require((same.instruction, same.target) == (episode.instruction, episode.target),
             f"seed {seed} gave {episode!r}, then {same!r}: a seed must give the same episode")
    return same


def _check_cameras(world: World, options: WorldOptions) -> None:
    for name, camera in world.cameras.items():
        frame = camera.read(options.max_frame_age_s)
        image = np.asarray(frame.image)
        _require(image.dtype == np.uint8 and image.shape == (options.size_px, options.size_px, 3),
                 f"camera {name!r} gave {image.dtype} {image.shape}; expected uint8 "
                 f"({options.size_px}, {options.size_px}, 3)")
        _require(frame.t_capture_s == options.clock(),
                 f"camera {name!r} stamped its frame {frame.t_capture_s}, not the clock's now {options.clock()} "
                 "(on demand, a frame shows the world at the driver's time)")


def _check_episode_end(world: World, advance: Callable[[float], object]) -> None:
    start_s, waited_s = world.elapsed_s(), 0.0
    while not world.done():
        _require(waited_s < MAX_EPISODE_S, f"an episode left alone was not done after {MAX_EPISODE_S} s")
        advance(STEP_S)
        world.step_now()
        waited_s += STEP_S
    _require(world.outcome() in (Outcome.SUCCESS, Outcome.FAILED, Outcome.TIMEOUT),
             f"done() but outcome() is {world.outcome()!r}")
    _require(abs(world.elapsed_s() - start_s - waited_s) < 1e-6,
             f"elapsed_s() moved {world.elapsed_s() - start_s} s while the clock moved {waited_s} s")
