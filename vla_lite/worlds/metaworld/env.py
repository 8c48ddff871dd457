"""`MetaWorldEnv`: Meta-World episodes without a serial link, in simulated time, for data generation and DAgger.

Like TabletopEnv, it drives the same controller the runtime meets over `--port sim`: a MetaWorldController gets
HELLO once, then one EE_DELTA COMMAND per step, and is advanced by exactly one 12.5 ms physics step per step().
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ...firmware_bridge.protocol import SCHEMA_HASH, Command, Hello, Log, Mode, Packet
from ..served import checked_action
from .camera import SceneRenderer, views_named
from .controller import JOINT_NAMES, MetaWorldController
from .expert import EE_DELTA_HIGH, EE_DELTA_LOW, EE_DELTA_NAMES, EE_DELTA_UNITS, MetaWorldExpert
from .scene import MAX_STEPS, STEP_S
from .tasks import episode_instruction, task_instructions

COMMAND_VALID_MS = math.ceil(3 * STEP_S * 1000)  # like the runtime: a COMMAND expires after three periods


class MetaWorldEnv:
    """`reset(seed) -> obs`, `step(ee_delta) -> obs`. obs: images {view name: (H, W, 3) uint8 RGB} for each of
    `views` ({} when render=False), image: the first view's (None when render=False), positions (4,) hand xyz +
    gripper opening (m), obs39 (39,) Meta-World's observation, instruction str, success, done (bool), step int,
    t_s float. `expert_ee_delta()` labels the current state."""

    rate_hz = 1.0 / STEP_S
    period_s = STEP_S
    joint_names = JOINT_NAMES
    state_units = ("m", "m", "m", "m")
    action_names, action_units = EE_DELTA_NAMES, EE_DELTA_UNITS

    def __init__(self, task: str = "reach-v3", *, size_px: int = 96, render: bool = True,
                 max_steps: int = MAX_STEPS, split: str = "train", views: Sequence[str] = ("front",)):
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        task_instructions(task, split)  # ValueError naming an unknown task or split
        shown = views_named(views)  # ValueError naming a bad view, before the scene is built
        self.views = tuple(shown)
        self.task, self.max_steps, self.split = task, max_steps, split
        self.low, self.high = EE_DELTA_LOW.copy(), EE_DELTA_HIGH.copy()  # (4,) per-step EE_DELTA bounds
        self.controller = MetaWorldController(task, 0, now_s=0.0)
        self.expert = MetaWorldExpert(task)
        self.renderers = {v: SceneRenderer(size_px, view) for v, view in shown.items()} if render else {}
        self._tick, self._seq = 0, 0  # physics steps since construction; the controller's clock is tick * STEP_S
        self._send(Hello(SCHEMA_HASH, "metaworld-env"))
        self.seed: int | None = None
        self.instruction = ""
        self.steps = 0

    def _send(self, msg) -> list:
        self._seq += 1
        return self.controller.handle(Packet(self._seq, msg), self._tick * STEP_S)

    def reset(self, seed: int) -> dict:
        """The placement of (task, seed), hand at its start, fingers open."""
        self.controller.new_episode(seed, self.task)
        self.seed = int(seed)
        self.instruction = episode_instruction(self.task, self.seed, self.split)
        self.steps = 0
        return self._obs()

    def step(self, ee_delta) -> dict:
        """Send one EE_DELTA (4,): dx dy dz (m, within +-10 mm) and gripper (-1 open ... +1 closed), then advance
        one 12.5 ms physics step."""
        if self.seed is None:
            raise RuntimeError("no episode: call reset(seed) first")
        if self.done:
            raise RuntimeError(f"episode {self.task} seed {self.seed} is done ({self.outcome}); call reset(seed)")
        delta = checked_action(ee_delta, self.action_names, self.low, self.high, "ee_delta")
        for msg in self._send(Command(Mode.EE_DELTA, tuple(delta.tolist()), COMMAND_VALID_MS)):
            if isinstance(msg, Log):  # the controller refused: a bug here, not a policy's fault
                raise RuntimeError(f"the Meta-World controller refused the command: {msg.text}")
        self._tick += 1
        self.controller.step(self._tick * STEP_S)
        self.steps += 1
        return self._obs()

    def expert_ee_delta(self) -> np.ndarray:
        """The scripted expert's EE_DELTA (4,) for the current state."""
        return self.expert.ee_delta(self.controller.observation())

    @property
    def success(self) -> bool:
        return self.controller.success

    @property
    def done(self) -> bool:
        return self.success or self.steps >= self.max_steps

    @property
    def outcome(self) -> str:
        """"success", "timeout" or "running"."""
        if self.success:
            return "success"
        return "timeout" if self.steps >= self.max_steps else "running"

    def positions(self) -> np.ndarray:
        return self.controller.positions()

    def _obs(self) -> dict:
        images = {v: self.controller.with_scene(r.render_scene) for v, r in self.renderers.items()}
        return {"images": images, "image": images.get(self.views[0]), "positions": self.controller.positions(),
                "obs39": self.controller.observation(), "instruction": self.instruction, "success": self.success, "done": self.done, "step": self.steps,
                "t_s": self.steps * STEP_S}

    def close(self) -> None:
        """Free the renderers and the Meta-World env. Safe to call twice."""
        for r in self.renderers.values():
            r.close()
        self.controller.close()

    def __enter__(self) -> "MetaWorldEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
