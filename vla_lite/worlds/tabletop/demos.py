"""`vla-lite demo-data`: demonstrations from the simulated world's scripted expert, in the runtime's recording format.

Each episode: a seeded layout, the expert labels every visited state with its next joint targets; what is executed
is that label plus optional Gaussian noise (DART: the data then shows how to recover from small errors, while the
labels stay clean). Recorded like `vla-lite run --record` writes (vla_lite/recording/FORMAT.md): `predicted` holds
the expert's label, `commanded` what was executed, and meta `label_field: "predicted"` tells the training reader
which to learn. Time is the environment's simulated clock, so the files are the same on every run.

The same function records DAgger rounds (vla_lite.export.dagger): a `policy(obs) -> targets` drives, the expert
labels. No torch here: the world's recorder lives with the world (Meta-World's: worlds/metaworld/demos.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from ...progress import progress_bar

USER_ERRORS = (ValueError, OSError)  # a bad --out folder or option: one line (vla_lite/cli.py)

NOISE_STD = np.array([0.03, 0.03, 0.004, 0.0])  # per joint at --noise 1: rad, rad, m, m (gripper never noised)
DEMO_SEED_BASE = 0  # demonstrations use seeds from here; evaluation starts at vla_lite.evaluate.EVAL_SEED_BASE


def record_tabletop_demos(out_dir, seeds, *, rate_hz: float = 25.0, size_px: int = 96, chunk: int = 10,
                    noise: float = 0.0, split: str = "train", max_steps: int = 250,
                    policy: Callable[[dict, object], np.ndarray] | None = None, label_source: str = "expert",
                    progress: bool = True, extra_meta: dict | None = None) -> dict:
    """Record one episode per seed into out_dir. `policy(obs, env) -> (4,) targets` drives when given (DAgger),
    else the expert does; the expert always labels. Returns a JSON-able summary."""
    from ...recording import EpisodeRecorder
    from ...cameras.base import Frame
    from .env import TabletopEnv
    from .expert import ScriptedExpert

    if noise < 0:
        raise ValueError(f"--noise must be >= 0, got {noise}")
    env = TabletopEnv(rate_hz=rate_hz, size_px=size_px, max_steps=max_steps, split=split)
    expert = ScriptedExpert(env.config)
    clock = _EnvClock(env)
    units = ["rad", "rad", "m", "m"]
    names = list(env.joint_names)
    seeds = list(seeds)
    rng = np.random.default_rng([0xDA77, *seeds[:1]])  # noise repeatable per seed range
    summary = {"episodes": 0, "successes": 0, "steps": 0, "outcomes": {}, "out": str(out_dir)}
    bar = progress_bar(len(seeds), progress, unit="ep")
    with EpisodeRecorder(out_dir, {"front": (size_px, size_px)}, names, names, state_units=units,
                         action_units=units, rate_hz=rate_hz, measured_names=names, clock=clock,
                         block_when_full=True, wall_time=None,
                         meta={"source": "vla-lite demo-data", "label_field": "predicted",
                               "label_source": label_source, "action_mode": "joint_position",
                               "action_low": env.low.tolist(), "action_high": env.high.tolist(),
                               **(extra_meta or {})}) as rec:
        for seed in seeds:
            obs = env.reset(int(seed))
            rec.start_episode(obs["instruction"], {"seed": int(seed), "target": env.episode.target_colour,
                                                   "split": split, "noise": noise})
            while not obs["done"]:
                label = expert.action_chunk(obs["positions"], env.episode.world, chunk, rate_hz)[0]
                act = label if policy is None else np.asarray(policy(obs, env), np.float64)
                if noise > 0:
                    act = act + rng.normal(0.0, 1.0, 4) * NOISE_STD * noise
                act = np.clip(act, env.low, env.high)
                frame = Frame(obs["image"], clock(), obs["step"])
                rec.record_tick(step=obs["step"], t_s=clock(), frames={"front": frame}, state=obs["positions"],
                                measured=obs["positions"], predicted=label, commanded=act, held=False, reason=None,
                                inferred=True, timing_ms={}, faults=[])
                obs = env.step(act)
            rec.end_episode(env.success, env.outcome)
            summary["episodes"] += 1
            summary["successes"] += int(env.success)
            summary["steps"] += env.steps
            summary["outcomes"][env.outcome] = summary["outcomes"].get(env.outcome, 0) + 1
            if bar is not None:
                bar.update(1)
                bar.set_postfix(success=f"{summary['successes']}/{summary['episodes']}")
    if bar is not None:
        bar.close()
    summary["success_rate"] = summary["successes"] / max(1, summary["episodes"])
    return summary


class _EnvClock:
    """The environment's simulated time as a clock (recordings are timed in it, not in wall time)."""

    def __init__(self, env):
        self.env = env

    def __call__(self) -> float:
        return self.env.steps * self.env.period_s


def add_arguments(parser) -> None:
    a = parser.add_argument
    a("--out", required=True, help="directory to record into (episodes are numbered after existing ones)")
    a("--episodes", type=int, default=200)
    a("--seed", type=int, default=DEMO_SEED_BASE, help="first layout seed")
    a("--rate", type=float, default=25.0, help="control rate, Hz (the policy's rate)")
    a("--size", type=int, default=96, help="camera image size, px")
    a("--noise", type=float, default=1.0, help="executed-action noise, x the default per-joint std (0: none)")
    a("--split", choices=("train", "paraphrase", "heldout"), default="train", help="instruction phrasings")
    a("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    if args.episodes < 1:
        print(f"vla-lite demo-data: --episodes must be >= 1, got {args.episodes}", file=sys.stderr)
        return 2
    summary = record_tabletop_demos(Path(args.out), range(args.seed, args.seed + args.episodes), rate_hz=args.rate,
                              size_px=args.size, noise=args.noise, split=args.split, progress=not args.json)
    print(json.dumps(summary, indent=1) if args.json else
          f"recorded {summary['episodes']} episodes ({summary['steps']} steps) to {summary['out']}; "
          f"expert success {summary['successes']}/{summary['episodes']}")
    return 0
