"""`MetaWorldRig`: Meta-World as a World (vla_lite.worlds.base), so a bundle runs MT10 or MT50 through the whole
stack.

One MetaWorldController served on a new pty by an ArmServer, and a MetaWorldCamera per named view (`cameras`,
camera name -> camera; names from camera.VIEWS, as the bundle's cameras are called) rendering its scene. The host
opens `rig.port` like any serial port. `new_episode(seed, task)` resets to that task's seeded placement;
`success()` is Meta-World's info["success"] at any step so far; `done()` is success, MAX_STEPS physics steps
(Meta-World's 500) or max_episode_s since new_episode, whichever first. Meta-World has no failure state:
`failed()` is always False and an unsolved episode ends as "timeout".

Lockstep (as SimRig): give an injected clock the driver moves forward and call `step_now()` after each move; the
controller then steps the physics up to that time in the server's thread, and an on-demand camera
(camera_fps=None) shows the scene at exactly that time. vla_lite.evaluate.run_episodes drives it unchanged.
`open_world` is what the port registry calls for `--port metaworld:TASK[,TASK...]`, `metaworld:mt10`,
`metaworld:mt50` and `metaworld:mt50-GROUP`; results are also reported by LeRobot's difficulty groups
(`target_groups`).
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

from ...firmware_bridge.arm_server import ArmServer
from ..base import Outcome, WorldOptions
from ..served import ServedWorld, TaskEpisode
from .camera import MetaWorldCamera, views_named
from .controller import MetaWorldController, metaworld_arm
from .scene import MAX_STEPS, check_seed
from .tasks import MT10, MT50_GROUPS, episode_instruction, task_instructions, task_of_instruction, tasks_named


MetaWorldEpisode = TaskEpisode  # seed, task (a Meta-World task name), instruction, split


class MetaWorldRig(ServedWorld):
    """Arm server, camera and episode judge; `seed` given: the first episode starts at once. Episodes without a
    task cycle through `tasks` by seed (seed % len(tasks))."""

    reports_per_target = True  # success per task, as MT10 results are given

    def __init__(self, *, tasks: str | Sequence[str] = MT10, seed: int | None = None, size_px: int = 96,
                 camera_names: Sequence[str] = ("front",), camera_fps: float | None = None, max_frame_age_s: float = 0.5,
                 max_episode_s: float | None = None, max_steps: int = MAX_STEPS, split: str = "train",
                 clock: Callable[[], float] = time.monotonic, link_path: str | None = None, watchdog_ms: int = 100,
                 torque_off_ms: int = 2000):
        self.tasks = (tasks,) if isinstance(tasks, str) else tuple(tasks)
        if not self.tasks:
            raise ValueError("tasks must name at least one Meta-World task, e.g. 'reach-v3'")
        for t in self.tasks:
            task_instructions(t, split)  # ValueError naming an unknown task or split
        # LeRobot's difficulty groups of these tasks (easy, medium, hard, very_hard), as results are also reported
        self.target_groups = {g: kept for g, ts in MT50_GROUPS.items() if (kept := tuple(t for t in ts
                                                                                           if t in self.tasks))}
        views = views_named(camera_names)  # ValueError naming a bad view
        if max_episode_s is not None and not max_episode_s > 0:
            raise ValueError(f"max_episode_s must be > 0 s or None, got {max_episode_s!r}")
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        self.split, self.max_episode_s, self.max_steps, self.clock = split, max_episode_s, max_steps, clock
        self.config = metaworld_arm(watchdog_ms=watchdog_ms, torque_off_ms=torque_off_ms)
        self.controller = MetaWorldController(self.tasks[0], 0, config=self.config, now_s=clock())
        self.cameras = {name: MetaWorldCamera(self.controller, name=name, size_px=size_px, fps=camera_fps,
                                              max_age_s=max_frame_age_s, clock=clock, view=view)
                        for name, view in views.items()}
        self.camera = next(iter(self.cameras.values()))  # the first
        self.server = ArmServer.on_pty(self.controller, link_path, clock=clock)
        self.episode: MetaWorldEpisode | None = None
        self._t_start_s = clock()
        self._start(camera_fps, seed)

    def new_episode(self, seed: int, instruction: str | None = None, task: str | None = None) -> MetaWorldEpisode:
        """The placement of (task, seed); the hand at its start, fingers open (latched faults stay). The task:
        `task`, else the one a user's `instruction` is a known phrasing of, else the tasks in turn by seed."""
        seed = check_seed(seed)
        task = task or (task_of_instruction(instruction) if instruction is not None else None) \
            or self.tasks[seed % len(self.tasks)]
        text = episode_instruction(task, seed, self.split)  # ValueError naming an unknown task
        self.controller.new_episode(seed, task)
        self.episode = MetaWorldEpisode(seed, task, text, self.split)
        self._t_start_s = self.clock()
        return self.episode

    def retarget(self, instruction: str) -> str | None:
        """The instruction changed mid-episode. Meta-World judges the episode's own task; returns a note for the
        user when the text is not a known phrasing of it."""
        if self.episode is None or task_of_instruction(instruction) == self.episode.task:
            return None
        return (f"{instruction!r} is not a known phrasing of this episode's task {self.episode.task!r}; "
                "success is still judged by Meta-World for that task")

    def _check_episode(self) -> None:
        if self.episode is None:
            raise RuntimeError("no episode yet: call new_episode(seed) first")

    def success(self) -> bool:
        self._check_episode()
        return self.controller.success

    def failed(self) -> bool:
        """Always False: Meta-World has no failure state (an unsolved episode times out)."""
        self._check_episode()
        return False

    def steps(self) -> int:
        """Physics steps since new_episode."""
        return self.controller.episode_steps

    def elapsed_s(self) -> float:
        return self.clock() - self._t_start_s

    def _timed_out(self) -> bool:
        return self.steps() >= self.max_steps or (self.max_episode_s is not None
                                                  and self.elapsed_s() >= self.max_episode_s)

    def done(self) -> bool:
        return self.success() or self._timed_out()

    def outcome(self) -> Outcome:
        """SUCCESS, TIMEOUT or RUNNING (Meta-World has no failure state)."""
        if self.success():
            return Outcome.SUCCESS
        return Outcome.TIMEOUT if self._timed_out() else Outcome.RUNNING

    def close(self) -> None:
        """Stop the cameras and the server, close the pty. Safe to call twice."""
        for cam in self.cameras.values():
            cam.close()
        self.server.close()
        self.controller.close()


def open_world(arg: str, options: WorldOptions) -> MetaWorldRig:
    """`--port metaworld:TASK[,TASK...]`, `metaworld:mt10`, `metaworld:mt50` or `metaworld:mt50-GROUP`
    (vla_lite.ports): the tasks, rendering the bundle's cameras as the views of those names. Episodes end at
    Meta-World's own length (MAX_STEPS), not at options.episode_timeout_s."""
    try:
        tasks = tasks_named(arg)
    except ValueError as exc:
        raise ValueError(f"--port metaworld:{arg}: {exc}") from None
    return MetaWorldRig(tasks=tasks, camera_names=options.camera_names, size_px=options.size_px,
                        camera_fps=options.camera_fps, max_frame_age_s=options.max_frame_age_s, split=options.split,
                        clock=options.clock)
