"""Episodes without a serial link, in simulated time: fast data generation and evaluation.

`TabletopEnv` drives a VirtualArm directly (HELLO once, then one JOINT_POSITION COMMAND per step, as the runtime
sends them) and advances its fake clock by one control period per step: the same controller and dynamics the
runtime meets over `--port sim`. The touch rule is checked every `judge_period_s` of simulated time within a step,
so a sweep through a wrong block between two steps is caught.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ...firmware_bridge.protocol import SCHEMA_HASH, Command, Hello, Log, Mode, Packet
from ...firmware_bridge.virtual_arm import VirtualArm
from ..served import checked_action
from .kinematics import JOINT_NAMES, ScaraKinematics, scara_arm
from .world import TABLE, Episode, TableSpec, TouchJudge, make_episode

COMMAND_VALID_PERIODS = 3  # like the runtime: a COMMAND expires after three periods


class TabletopEnv:
    """`reset(seed) -> obs`, `step(joint_targets) -> obs`. obs: image (H, W, 3) uint8 RGB (None when
    render=False), positions (4,) rad/m, instruction str, success, failed, done (bool), step int, t_s float."""

    def __init__(self, *, n_blocks: int = 3, rate_hz: float = 20.0, size_px: int = 96, max_steps: int = 200,
                 split: str = "train", render: bool = True, spec: TableSpec = TABLE, judge_period_s: float = 0.01):
        if not 0.1 <= rate_hz <= 1000:
            raise ValueError(f"rate_hz must be in [0.1, 1000] Hz, got {rate_hz!r}")
        if not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be an integer >= 1, got {max_steps!r}")
        if not judge_period_s > 0:
            raise ValueError(f"judge_period_s must be > 0 s, got {judge_period_s!r}")
        self.n_blocks, self.rate_hz, self.max_steps, self.split, self.spec = n_blocks, rate_hz, max_steps, split, spec
        self.period_s = 1.0 / rate_hz
        period_ms = 1000.0 * self.period_s
        config = scara_arm(spec.geometry)
        # At low rates the 100 ms watchdog would trip between two steps: stretch it to three periods.
        config = dataclasses.replace(config, watchdog_ms=min(0xFFFF, max(config.watchdog_ms,
                                                                         math.ceil(3 * period_ms))))
        self.config = config
        self.joint_names = JOINT_NAMES
        self.low, self.high = spec.geometry.low, spec.geometry.high  # (4,) joint limits, rad/m
        self._valid_ms = min(0xFFFF, math.ceil(COMMAND_VALID_PERIODS * period_ms))
        self._n_judge = max(1, math.ceil(self.period_s / judge_period_s - 1e-9))
        self.arm = VirtualArm(config, np.array(spec.home), ScaraKinematics(spec.geometry), now_s=0.0)
        self._t_s, self._seq = 0.0, 0
        self._send(Hello(SCHEMA_HASH, "tabletop-env"))
        self.renderer = None
        if render:
            from .render import Renderer
            self.renderer = Renderer(size_px, spec)
        self.episode: Episode | None = None
        self.judge: TouchJudge | None = None
        self.steps = 0

    def _send(self, msg) -> list:
        self._seq += 1
        return self.arm.handle(Packet(self._seq, msg), self._t_s)

    def reset(self, seed: int, start_positions=None) -> dict:
        """A new layout from seed; the arm teleported to the home pose or to `start_positions` (4,). A start that
        already touches a block decides the episode at once."""
        self.episode = make_episode(seed, self.n_blocks, self.split, self.spec)
        start = np.array(self.spec.home if start_positions is None else start_positions, np.float64)
        self.arm.reset(start)  # ValueError naming the joint when outside the limits
        self.judge = TouchJudge(self.episode.world)
        self.judge.observe(self.arm.positions())
        self.steps = 0
        return self._obs()

    def step(self, joint_targets) -> dict:
        """Send joint position targets (4,) for this step and advance one control period."""
        if self.episode is None:
            raise RuntimeError("no episode: call reset(seed) first")
        if self.done:
            raise RuntimeError(f"episode {self.episode.seed} is done ({self.outcome}); call reset(seed)")
        target = checked_action(joint_targets, self.joint_names, self.low, self.high, "joint targets", " target")
        for msg in self._send(Command(Mode.JOINT_POSITION, tuple(target.tolist()), self._valid_ms)):
            if isinstance(msg, Log):  # the controller refused: a bug here, not a policy's fault
                raise RuntimeError(f"the virtual arm refused the command: {msg.text}")
        t0 = self._t_s
        for k in range(1, self._n_judge + 1):
            self.arm.step(t0 + self.period_s * k / self._n_judge)
            self.judge.observe(self.arm.positions())
        self._t_s = t0 + self.period_s
        self.steps += 1
        return self._obs()

    @property
    def success(self) -> bool:
        return self.judge is not None and self.judge.success

    @property
    def failed(self) -> bool:
        return self.judge is not None and self.judge.failed

    @property
    def done(self) -> bool:
        return self.success or self.failed or self.steps >= self.max_steps

    @property
    def outcome(self) -> str:
        """"success", "failed" (a wrong block touched first), "timeout" or "running"."""
        if self.success:
            return "success"
        if self.failed:
            return "failed"
        return "timeout" if self.steps >= self.max_steps else "running"

    def positions(self) -> np.ndarray:
        return self.arm.positions()

    def _obs(self) -> dict:
        pos = self.arm.positions()
        image = self.renderer.render(self.episode.world, pos) if self.renderer is not None else None
        return {"image": image, "positions": pos, "instruction": self.episode.instruction,
                "success": self.success, "failed": self.failed, "done": self.done, "step": self.steps,
                "t_s": self.steps * self.period_s}
