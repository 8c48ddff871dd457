"""Meta-World demonstrations from the scripted experts, in the runtime's recording format (recording/FORMAT.md).

The same layout the tabletop's recorder (worlds/tabletop/demos.py) writes, so the offline path reads both
unchanged: `predicted` holds the expert's label, `commanded` what was executed (label, or a DAgger policy's
action, plus optional Gaussian noise on the hand motion: DART) passed through the runtime's own SafetyFilter,
ramp-in included, so the states recorded are the ones `vla-lite run` meets (the 0.3 s ramp-in alone took a student
trained without it from 8/8 to 0/8 on door-open); meta `label_field: "predicted"`; `action_mode: "ee_delta"` and
the per-step bounds `action_low/high` go to the exported bundle. Time is the env's simulated clock (80 Hz steps),
so the files are the same on every run. State: hand x, y, z and gripper opening (m), the controller's joints.
"""

from __future__ import annotations

import zlib
from typing import Callable, Mapping, Sequence

import numpy as np

from ...progress import progress_bar
from ..demo_runs import add_demo_arguments, count_episode, finish_summary, new_summary, run_demo_command
from ...safety import DEFAULT_RAMP_S, ActionMode, SafetyFilter, SafetyLimits
from .camera import VIEWS
from .scene import MAX_STEPS
from .tasks import tasks_named

USER_ERRORS = (ValueError, OSError)  # a bad --out folder or option: one line (vla_lite/cli.py)

NOISE_STD_M = 0.002  # per hand axis and step at noise 1 (20 % of the 10 mm largest step); gripper never noised
DEMO_SEED_BASE = 0  # demonstrations use seeds from here; evaluate from vla_lite.evaluate.EVAL_SEED_BASE


def record_metaworld_demos(out_dir, tasks: Sequence[str], seeds: Sequence[int] | Mapping[str, Sequence[int]], *,
                           noise: float = 0.0, policy: Callable[[dict, object], np.ndarray] | None = None,
                           size_px: int = 96, split: str = "train", max_steps: int = MAX_STEPS,
                           views: Sequence[str] = ("front",), label_source: str = "expert", progress: bool = True,
                           extra_meta: dict | None = None, ramp_s: float = DEFAULT_RAMP_S) -> dict:
    """One episode per (task, seed) into out_dir; `seeds` is one list for every task, or a {task: seeds} mapping
    (a weighted DAgger round). `policy(obs, env) -> (4,) EE_DELTA` drives when given (DAgger), else the expert
    does; the expert always labels. What is executed goes through the runtime's safety filter with a ramp-in of
    `ramp_s` (as `vla-lite run --ramp-s`; 0: none). One recorded camera per view (camera.VIEWS), named after it.
    Returns a JSON-able summary."""
    from ...cameras.base import Frame
    from ...recording import EpisodeRecorder

    from .env import MetaWorldEnv

    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    tasks = [tasks] if isinstance(tasks, str) else list(tasks)
    per_task = _seeds_per_task(tasks, seeds)
    ramp_s = float(ramp_s)
    if not ramp_s >= 0:
        raise ValueError(f"ramp_s must be >= 0 s, got {ramp_s!r}")
    summary = new_summary(out_dir)
    bar = progress_bar(sum(map(len, per_task.values())), progress, unit="ep")
    env = None

    def clock() -> float:  # the current env's simulated time: the recordings are timed in it
        return 0.0 if env is None else env.steps * env.period_s

    try:
        env = MetaWorldEnv(tasks[0], size_px=size_px, max_steps=max_steps, split=split, views=views)
        names, units = list(env.joint_names), list(env.state_units)
        with EpisodeRecorder(out_dir, {v: (size_px, size_px) for v in env.views}, names, list(env.action_names),
                             state_units=units, action_units=list(env.action_units), rate_hz=env.rate_hz,
                             measured_names=names, clock=clock, block_when_full=True, wall_time=None,
                             meta={"source": "vla-lite metaworld demos", "label_field": "predicted",
                                   "label_source": label_source, "action_mode": "ee_delta",
                                   "action_low": env.low.tolist(), "action_high": env.high.tolist(),
                                   "ramp_s": ramp_s, **(extra_meta or {})}) as rec:
            safety = SafetyFilter(ee_delta_limits(env), env.period_s, ramp_s)
            for task in tasks:
                if env.task != task and per_task[task]:
                    env.close()
                    env = MetaWorldEnv(task, size_px=size_px, max_steps=max_steps, split=split, views=views)
                for seed in per_task[task]:
                    _record_one(rec, env, Frame, seed, noise, policy, safety)
                    count_episode(summary, task, env.success, env.steps, env.outcome)
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(success=f"{summary['successes']}/{summary['episodes']}")
    finally:
        if env is not None:
            env.close()
        if bar is not None:
            bar.close()
    return finish_summary(summary)


def _seeds_per_task(tasks: list[str], seeds) -> dict[str, list[int]]:
    """task -> its seeds, from one list for all or a {task: seeds} mapping; ValueError when a task has none."""
    if isinstance(seeds, Mapping) and not set(tasks) <= set(seeds):
        raise ValueError(f"seeds name tasks {sorted(seeds)}; expected seeds for each of {tasks}")
    per_task = {t: [int(s) for s in (seeds[t] if isinstance(seeds, Mapping) else seeds)] for t in tasks}
    if not tasks or not any(per_task.values()):
        raise ValueError(f"need at least one task and one seed, got tasks {tasks} and seeds {dict(per_task)}")
    return per_task


def ee_delta_limits(env) -> SafetyLimits:
    """The limits `vla-lite run` derives for a Meta-World bundle: the env's per-step bounds, gripper last."""
    inf = np.full(len(env.action_names), np.inf)
    return SafetyLimits(ActionMode.EE_DELTA, env.action_names, env.low, env.high, inf, inf, inf,
                        gripper=len(env.action_names) - 1)


def drive(env, obs: dict, safety: SafetyFilter, noise: float = 0.0, policy=None):
    """One episode of `env` from `obs` (its reset), as demonstrations and DAgger rollouts are recorded: in
    every state, `policy(obs, env)` (else the expert) acts, plus DART noise on the hand motion, and the command
    passes the runtime's safety filter (its ramp-in restarts here). Yields (obs, label, command) before each step;
    env.success and env.outcome tell how it ended."""
    # Noise repeatable per episode, whatever the order episodes are recorded in.
    rng = np.random.default_rng([0xDA77, zlib.crc32(env.task.encode()), env.seed])
    safety.start(None)
    while not obs["done"]:
        label = env.expert_ee_delta()
        act = label if policy is None else np.asarray(policy(obs, env), np.float64)
        if noise > 0:
            act = act + np.append(rng.normal(0.0, NOISE_STD_M * noise, 3), 0.0)
        act = safety.filter(act, obs["positions"]).command  # a non-finite action holds (zero motion)
        yield obs, label, act
        obs = env.step(act)


def _record_one(rec, env, Frame, seed: int, noise: float, policy, safety: SafetyFilter) -> None:
    obs = env.reset(seed)
    rec.start_episode(obs["instruction"], {"seed": seed, "task": env.task, "split": env.split, "noise": noise})
    for obs, label, act in drive(env, obs, safety, noise, policy):
        t_s = obs["t_s"]
        frames = {v: Frame(image, t_s, obs["step"]) for v, image in obs["images"].items()}
        rec.record_tick(step=obs["step"], t_s=t_s, frames=frames,
                        state=obs["positions"], measured=obs["positions"], predicted=label, commanded=act,
                        held=False, reason=None, inferred=True, timing_ms={}, faults=[])
    rec.end_episode(env.success, env.outcome)


# --- `vla-lite metaworld-demos` (proposed command) ---------------------------------------------------------

def add_arguments(parser) -> None:
    add_demo_arguments(parser, tasks=("mt10", "mt10 (default), mt50, mt50-GROUP (LeRobot's easy, medium, hard, "
                                             "very-hard) or a comma list of Meta-World tasks"), episodes=50,
                       views=("front", f"comma list of cameras to record, from {list(VIEWS)} (e.g. front,side: "
                                       "two views place a point in 3-D)"),
                       noise_help=f"hand-motion noise, x {NOISE_STD_M * 1e3:g} mm per step (0: none)",
                       ramp_s=DEFAULT_RAMP_S, first_seed=DEMO_SEED_BASE)


def record_named_tasks(out_dir, tasks: Sequence[str], seeds, **options) -> dict:
    """record_metaworld_demos with --tasks names expanded (mt10, mt50, mt50-GROUP or task names)."""
    return record_metaworld_demos(out_dir, tasks_named(",".join(tasks)), seeds, **options)


def run(args) -> int:
    return run_demo_command("metaworld-demos", args, record_named_tasks)
