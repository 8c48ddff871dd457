"""`SO101Rig`: the SO-101 world as a World (vla_lite.worlds.base) behind six virtual STS3215 servos on a pty, so
`--port so101-sim` drives it with the bytes a real SO-101 receives.

The arm's only inputs are the servos' Goal_Position (and Torque_Enable) registers, written by any host over the
pty (SYNC_WRITE / WRITE: vla-lite's ServoBus, the Feetech SDK, LeRobot); Present_Position / Velocity / Load come
from the world's joints (plant.py), encoded with the homing offsets of an already calibrated arm. `port` is that
pty, `bus_profile` ("so101") tells the runtime it is a servo bus, and `calibration` is the ArmCalibration that
matches the servos (`save_calibration(path)` writes it as `vla-lite calibrate` does). The bus's fault injection
(missing / corrupt replies, stray bytes) works as on the plain virtual bus (`faults`).

Episodes: the 12 tasks (cube colour x bowl / left pad / right pad), named "red-bowl", "blue-left-pad", ...;
`new_episode(seed)` lays out the scene of `seed` with the task tasks[seed % len(tasks)], or the one a known
phrasing of an instruction names. Success is the world's (the cube rests at its place, released); an episode ends
at the world's own length (MAX_STEPS, 10 s at 30 Hz). Results are reported per task.

Lockstep: with an injected clock the driver moves, the bus answers at the clock's time and the world steps once
per 30 Hz period passed in `step_now()`, after every byte the host wrote has been handled; on-demand cameras
(camera_fps None) show the world at exactly the driver's time. `lockstep_peer` (the bus's server) lets a host's
ServoBus wait for the servos' answers instead of wire-sized windows (firmware_bridge/servo/lockstep.py), so a busy
machine changes nothing the host reads. Real time (`realtime=True`; open_world: when the
cameras have their own threads): a thread of the rig steps the world at 30 Hz deadlines on the clock.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Callable, Sequence

from ...calib.arm_calibration import save_arm_calibration
from ...firmware_bridge.servo.arms import load_arm
from ...firmware_bridge.servo.serve import PtyServer
from ...firmware_bridge.servo.virtual_bus import Faults, VirtualBus
from ..base import Outcome, WorldOptions
from ..served import ServedWorld, TaskEpisode
from .camera import SO101Camera
from .instructions import Task, all_tasks, task_of_instruction
from .plant import WorldPlant, servo_registers, world_calibration
from .world import SO101World

TASKS = {f"{t.colour}-{t.place.value.replace(' ', '-')}": t for t in all_tasks()}  # "red-bowl" -> Task
NAMES = {t: name for name, t in TASKS.items()}


SO101Episode = TaskEpisode  # seed, task (a TASKS name, e.g. "red-bowl"), instruction, split


class SO101Rig(ServedWorld):
    """Virtual servo bus on a pty, cameras, episode judge; `seed` given: the first episode starts at once."""

    reports_per_target = True  # success per task
    target_groups: dict[str, tuple[str, ...]] = {}  # the 12 tasks form no difficulty groups
    bus_profile = "so101"

    def __init__(self, *, tasks: Sequence[str] = tuple(TASKS), seed: int | None = None, size_px: int = 96,
                 camera_names: Sequence[str] = ("front", "wrist"), camera_fps: float | None = None,
                 max_frame_age_s: float = 0.5, split: str = "train", clock: Callable[[], float] = time.monotonic,
                 faults: Faults | None = None, wire: bool = False, realtime: bool = False):
        self.tasks = tuple(task_named(t) for t in tasks)
        if not self.tasks:
            raise ValueError(f"tasks must name at least one task, e.g. 'red-bowl'; known: {', '.join(TASKS)}")
        self.split, self.clock = split, clock
        self.world = world = SO101World(split=split)
        world.reset(0, self.tasks[0])  # a scene to hold until the first episode
        self.calibration = world_calibration(world.low_rad, world.high_rad)
        self.plant = WorldPlant(world, clock())
        profile = load_arm(self.bus_profile)
        self.bus = VirtualBus(profile, faults, now_s=clock(), plant=self.plant,
                              registers=servo_registers(self.calibration))
        self.server = PtyServer(self.bus, profile.baudrate if wire else None, clock=clock)
        self.lock = self.server.lock
        self.lockstep_peer = None if realtime else self.server  # lockstep: a host waits for the servos' answers
        self.cameras = {name: SO101Camera(world, self.lock, name=name, size_px=size_px, fps=camera_fps,
                                          max_age_s=max_frame_age_s, clock=clock) for name in camera_names}
        self.episode: SO101Episode | None = None
        self._t_start_s = clock()
        self._stop = threading.Event()
        self._stepper = threading.Thread(target=self._step_in_real_time, name="so101-sim-physics", daemon=True)
        self._start(camera_fps, seed)
        if realtime:
            self._stepper.start()

    def _step_in_real_time(self) -> None:
        """World steps at absolute 30 Hz deadlines on the clock (a missed one is caught up by step_to)."""
        period = self.world.period_s
        while not self._stop.is_set():
            now = self.clock()
            next_s = self.plant.t0_s + (self.plant.periods + 1) * period
            if now >= next_s:
                with self.lock:  # no settle(): in real time, bytes still on their way are simply the next tick's
                    self.plant.step_to(now)
            else:
                self._stop.wait(next_s - now)

    def new_episode(self, seed: int, instruction: str | None = None, task: str | None = None) -> SO101Episode:
        """The layout of `seed`, the arm back home holding still. The task: `task`, else the one a known phrasing
        in `instruction` names, else tasks[seed % len(tasks)]. The instruction: the user's, else a phrasing of
        the task drawn from the seed (split)."""
        chosen = task_named(task) if task is not None else _task_of(instruction)
        chosen = chosen or self.tasks[int(seed) % len(self.tasks)]
        with self.lock:
            now = self.clock()
            ep = self.world.reset(seed, chosen, instruction)
            self.plant.rebase(now)
            self.bus.hold(now)
            self.episode = SO101Episode(ep.seed, NAMES[chosen], ep.instruction, self.split)
            self._t_start_s = now
        return self.episode

    def retarget(self, instruction: str) -> str | None:
        """Judge the episode by the task a known phrasing names; a note (task unchanged) when it names none."""
        task = _task_of(instruction)
        if self.episode is None or task is None:
            return (f"{instruction!r} is no known phrasing of an SO-101 task (e.g. 'put the red cube in the bowl'); "
                    "success is judged by the episode's own task")
        with self.lock:
            self.world.episode = dataclasses.replace(self.world.episode, task=task, instruction=instruction)
            self.episode = self.episode._replace(task=NAMES[task], instruction=instruction)
        return None

    def step_now(self) -> None:
        """Lockstep: the world steps every 30 Hz period up to clock() now, with the goals the servos hold once
        every byte a host has written so far is handled."""
        self.server.settle()
        with self.lock:
            self.plant.step_to(self.clock())

    def success(self) -> bool:
        with self.lock:
            return self.world.success

    def elapsed_s(self) -> float:
        return self.clock() - self._t_start_s

    def outcome(self) -> Outcome:
        if self.episode is None:
            raise RuntimeError("no episode yet: call new_episode(seed) first")
        with self.lock:
            world = self.world.outcome
        return Outcome(world.value)  # running / success / timeout (the world has no failure state)

    def done(self) -> bool:
        return self.outcome() is not Outcome.RUNNING

    def save_calibration(self, path: str | os.PathLike):
        """Write `calibration` as the JSON `vla-lite calibrate` writes (for `--calibration`)."""
        return save_arm_calibration(path, self.calibration)

    def close(self) -> None:
        """Stop the physics thread, the cameras and the bus, close the pty. Safe to call twice."""
        self._stop.set()
        if self._stepper.is_alive() and self._stepper is not threading.current_thread():
            self._stepper.join(timeout=2.0)
        for cam in self.cameras.values():
            cam.close()
        self.server.close()


def task_named(name) -> Task:
    """A Task from its name ("red-bowl", "blue-left-pad") or a Task; ValueError naming the known names."""
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise ValueError(f"unknown SO-101 task {name!r}; expected one of {', '.join(TASKS)}")
    return TASKS[name]


def _task_of(instruction: str | None) -> Task | None:
    if instruction is None:
        return None
    try:
        return task_of_instruction(instruction)
    except ValueError:
        return None


FAULT_KEYS = {"drop": "drop_rate", "corrupt": "corrupt_rate", "stray": "stray_rate"}


def parse_arg(arg: str) -> tuple[tuple[str, ...], Faults | None]:
    """`so101-sim:ITEM[,ITEM...]`: task names (none: all 12), and faults drop=P, corrupt=P, stray=P, seed=N."""
    tasks, faults = [], {}
    for item in (i.strip() for i in arg.split(",") if i.strip()):
        key, eq, value = item.partition("=")
        if not eq:
            task_named(item)  # ValueError naming the known tasks
            tasks.append(item)
        elif key in FAULT_KEYS or key == "seed":
            try:
                faults[FAULT_KEYS.get(key, key)] = int(value) if key == "seed" else float(value)
            except ValueError:
                raise ValueError(f"so101-sim:{item}: {key} needs a number, got {value!r}") from None
        else:
            raise ValueError(f"so101-sim:{item}: unknown option {key!r}; expected a task ({', '.join(TASKS)}) or "
                             f"{', '.join(f'{k}=P' for k in FAULT_KEYS)}, seed=N")
    return tuple(tasks) or tuple(TASKS), (Faults(**faults) if faults else None)


def open_world(arg: str, options: WorldOptions) -> SO101Rig:
    """`--port so101-sim[:ITEM,...]` (vla_lite.ports): see parse_arg. Cameras: the bundle's, from "front" and
    "wrist". Episodes end at the world's own length, not at options.episode_timeout_s."""
    tasks, faults = parse_arg(arg)
    return SO101Rig(tasks=tasks, size_px=options.size_px, camera_names=options.camera_names,
                    camera_fps=options.camera_fps, max_frame_age_s=options.max_frame_age_s, split=options.split,
                    clock=options.clock, faults=faults, realtime=options.camera_fps is not None)

