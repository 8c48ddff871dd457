"""SO-101 demonstrations from the scripted expert, in the runtime's recording format (recording/FORMAT.md).

The layout the tabletop's and Meta-World's recorders write, so the offline path reads all three unchanged:
`predicted` holds the expert's label (its next joint targets), `commanded` what was executed (the label, or a
DAgger policy's action, plus optional Gaussian noise on the arm joints: DART) passed through the runtime's own
SafetyFilter, ramp-in included, so the states recorded are the ones `vla-lite run` meets; meta
`label_field: "predicted"`, `action_mode: "joint_position"` and the bounds `action_low/high` go to the bundle.
State and action: shoulder_pan .. wrist_roll in rad and the gripper as a 0 (closed) .. 1 (open) fraction -- the
units the SO-101's calibration gives through the servo bus (worlds/so101/plant.py). Cameras "front" and "wrist"
(LeRobot's SO-101 names), small square images. Time is the world's simulated 30 Hz clock: the same files on every
run. The expert is stateless, so it labels any state a policy visits (DAgger: pass `policy(obs, world)`).
"""

from __future__ import annotations

import sys
import zlib
from typing import Callable, Mapping, Sequence

import numpy as np

from ...progress import progress_bar
from ..demo_runs import add_demo_arguments, count_episode, finish_summary, new_summary, run_demo_command
from ...safety import DEFAULT_RAMP_S, ActionMode, SafetyFilter, SafetyLimits
from .model import GRIPPER_CLOSED_RAD, GRIPPER_OPEN_RAD, JOINT_NAMES, STS3215
from .render import CAMERAS
from .rig import TASKS, task_named
from .world import MAX_STEPS

NOISE_STD_RAD = 0.01  # per arm joint and step at noise 1 (about a fifth of the expert's typical step); gripper never
ACC_MARGIN = 2.0  # as SafetyLimits.from_bundle_and_arm: commands may change speed at 2x the servos' acceleration
UNITS = ("rad",) * 5 + ("1",)  # the gripper a dimensionless 0..1 fraction: "1", as bundles name it
SOURCE = "vla-lite so101 demos"  # recording info.source: the offline path knows the world by it
DEMO_SEED_BASE = 0


def so101_limits(world) -> SafetyLimits:
    """The runtime's joint_position limits for the SO-101: the world's joint ranges, the STS3215's speed (the
    gripper's in fractions/s) and acceleration (x ACC_MARGIN), max step = speed x period."""
    span = GRIPPER_OPEN_RAD - GRIPPER_CLOSED_RAD
    vel = np.array([STS3215.max_speed_rad_s] * 5 + [STS3215.max_speed_rad_s / span])
    acc = ACC_MARGIN * np.array([STS3215.max_accel_rad_s2] * 5 + [STS3215.max_accel_rad_s2 / span])
    return SafetyLimits(ActionMode.JOINT_POSITION, JOINT_NAMES, world.low, world.high, vel * world.period_s, vel, acc)


def record_so101_demos(out_dir, tasks: Sequence[str], seeds: Sequence[int] | Mapping[str, Sequence[int]], *,
                       noise: float = 0.0, policy: Callable[[dict, object], np.ndarray] | None = None,
                       size_px: int = 96, split: str = "train", views: Sequence[str] = CAMERAS,
                       label_source: str = "expert", progress: bool = True, extra_meta: dict | None = None,
                       ramp_s: float = DEFAULT_RAMP_S, max_steps: int = MAX_STEPS) -> dict:
    """One episode per (task, seed) into out_dir; `seeds` is one list for every task or a {task: seeds} mapping.
    `policy(obs, world) -> (6,) targets` drives when given (DAgger), else the expert does; the expert always
    labels. Tasks are TASKS names ("red-bowl"). Returns a JSON-able summary."""
    from ...calib.calibration_compare import calibration_fingerprint
    from ...calibration_contract import PROVENANCE_KEY as ARM_CALIBRATION
    from ...cameras.base import Frame
    from ...recording import EpisodeRecorder
    from .expert import ScriptedExpert
    from .plant import world_calibration
    from .render import SO101Renderer
    from .world import SO101World

    if not noise >= 0 or not float(ramp_s) >= 0:
        raise ValueError(f"noise and ramp_s must be >= 0, got {noise!r} and {ramp_s!r}")
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    per_task = {t: [int(s) for s in (seeds[t] if isinstance(seeds, Mapping) else seeds)] for t in tasks}
    for t in tasks:
        task_named(t)  # ValueError naming the known tasks
    bad = [v for v in views if v not in CAMERAS]
    if bad or not views or not any(per_task.values()):
        raise ValueError(f"need tasks, seeds and views from {list(CAMERAS)}; got {tasks}, {per_task}, {list(views)}")
    world = SO101World(split=split, max_steps=max_steps)
    expert, renderer = ScriptedExpert(world), SO101Renderer(world.model, size_px)
    summary = new_summary(out_dir)
    bar = progress_bar(sum(map(len, per_task.values())), progress, unit="ep")
    # The joint angles are those the world's servo calibration gives (so101-sim): a bundle trained on these
    # episodes records its fingerprint (provenance.arm_calibration), as one trained on `run --record` does.
    fingerprint = calibration_fingerprint(world_calibration(world.low_rad, world.high_rad))
    meta = {"source": SOURCE, "label_field": "predicted", "label_source": label_source,
            "action_mode": "joint_position", "action_low": world.low.tolist(), "action_high": world.high.tolist(),
            "ramp_s": float(ramp_s), "world": "so101", ARM_CALIBRATION: fingerprint, **(extra_meta or {})}
    try:
        with EpisodeRecorder(out_dir, {v: (size_px, size_px) for v in views}, list(JOINT_NAMES), list(JOINT_NAMES),
                             state_units=list(UNITS), action_units=list(UNITS), rate_hz=world.rate_hz,
                             measured_names=list(JOINT_NAMES), clock=lambda: world.t_s, block_when_full=True,
                             wall_time=None, meta=meta) as rec:
            safety = SafetyFilter(so101_limits(world), world.period_s, float(ramp_s))
            for task, task_seeds in per_task.items():
                for seed in task_seeds:
                    episode = _Episode(world, expert, renderer, views, Frame)
                    episode.run(rec, task, seed, noise, policy, safety)
                    count_episode(summary, task, world.success, world.steps, world.outcome.value)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(success=f"{summary['successes']}/{summary['episodes']}")
    finally:
        renderer.close()
        if bar is not None:
            bar.close()
    return finish_summary(summary)


class _Episode:
    """One recorded episode: observe, label, act through the safety filter, step."""

    def __init__(self, world, expert, renderer, views, frame_type):
        self.world, self.expert, self.renderer, self.views, self.Frame = world, expert, renderer, views, frame_type

    def observe(self) -> dict:
        w = self.world
        images = {v: self.renderer.render(w.data, v) for v in self.views}
        return {"images": images, "image": images[self.views[0]], "positions": w.present_positions(),
                "instruction": w.episode.instruction, "step": w.steps, "t_s": w.t_s, "done": w.done,
                "success": w.success}

    def run(self, rec, task: str, seed: int, noise: float, policy, safety: SafetyFilter) -> None:
        w = self.world
        rng = np.random.default_rng([0xDA77, zlib.crc32(task.encode()), seed])  # per episode, in any order
        w.reset(seed, task_named(task))
        obs = self.observe()
        safety.start(obs["positions"])
        rec.start_episode(obs["instruction"], {"seed": seed, "task": task, "split": w.split, "noise": noise})
        while not obs["done"]:
            label = self.expert.action(w)
            act = label if policy is None else np.asarray(policy(obs, w), np.float64)
            if noise > 0:
                act = act + np.append(rng.normal(0.0, NOISE_STD_RAD * noise, 5), 0.0)
            act = safety.filter(act, obs["positions"]).command  # a non-finite action holds
            frames = {v: self.Frame(image, obs["t_s"], obs["step"]) for v, image in obs["images"].items()}
            rec.record_tick(step=obs["step"], t_s=obs["t_s"], frames=frames, state=obs["positions"],
                            measured=obs["positions"], predicted=label, commanded=act, held=False, reason=None,
                            inferred=True, timing_ms={}, faults=[])
            w.step(act)
            obs = self.observe()
        rec.end_episode(w.success, w.outcome.value)


# --- `vla-lite so101-demos` (proposed command) -------------------------------------------------------------

def add_arguments(parser) -> None:
    add_demo_arguments(parser, tasks=(",".join(TASKS), "comma list of tasks (default: all 12), e.g. red-bowl,"
                                                        "blue-left-pad"), episodes=20,
                       views=(",".join(CAMERAS), f"comma list of cameras to record, from {list(CAMERAS)}"),
                       noise_help=f"arm-joint noise, x {NOISE_STD_RAD} rad per step (0: none)",
                       ramp_s=DEFAULT_RAMP_S, first_seed=DEMO_SEED_BASE)


def run(args) -> int:
    return run_demo_command("so101-demos", args, record_so101_demos)


def main(argv: list[str] | None = None) -> int:
    """`python -m vla_lite.worlds.so101.demos --out DIR ...` until the CLI has the command."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m vla_lite.worlds.so101.demos",
                                     description="record SO-101 scripted-expert demonstrations")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
