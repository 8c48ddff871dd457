"""What the per-task demonstration recorders share (Meta-World's and the SO-101's): the run summary they return and
the body of their `vla-lite ...-demos` commands. No world imported here."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable


def add_demo_arguments(parser, *, tasks: tuple[str, str], episodes: int, views: tuple[str, str], noise_help: str,
                       ramp_s: float, first_seed: int = 0) -> None:
    """The flags run_demo_command reads. tasks / views: (default, help)."""
    a = parser.add_argument
    a("--out", required=True, help="directory to record into (episodes are numbered after existing ones)")
    a("--tasks", default=tasks[0], help=tasks[1])
    a("--episodes", type=int, default=episodes, help="episodes per task")
    a("--seed", type=int, default=first_seed, help="first placement seed")
    a("--size", type=int, default=96, help="camera image size, px")
    a("--views", default=views[0], help=views[1])
    a("--noise", type=float, default=1.0, help=noise_help)
    a("--split", choices=("train", "paraphrase", "heldout"), default="train", help="instruction phrasings")
    a("--ramp-s", type=float, default=ramp_s,
      help="the safety filter's ramp-in at each episode's start, s, as `vla-lite run --ramp-s` (0: none)")
    a("--json", action="store_true", help="print the summary as JSON")


def new_summary(out_dir) -> dict:
    """The JSON-able summary a recorder fills with count_episode() and closes with finish_summary()."""
    return {"episodes": 0, "successes": 0, "steps": 0, "outcomes": {}, "tasks": {}, "out": str(out_dir)}


def count_episode(summary: dict, task: str, success: bool, steps: int, outcome: str) -> None:
    summary["episodes"] += 1
    summary["successes"] += int(success)
    summary["steps"] += int(steps)
    summary["outcomes"][outcome] = summary["outcomes"].get(outcome, 0) + 1
    per = summary["tasks"].setdefault(task, {"episodes": 0, "successes": 0})
    per["episodes"] += 1
    per["successes"] += int(success)


def finish_summary(summary: dict) -> dict:
    summary["success_rate"] = summary["successes"] / max(1, summary["episodes"])
    return summary


def run_demo_command(command: str, args, record: Callable[..., dict]) -> int:
    """`vla-lite <command>`: record(out_dir, tasks, seeds, noise=, size_px=, split=, views=, progress=, ramp_s=)
    from the parsed --out/--tasks/--episodes/--seed/--noise/--size/--split/--views/--ramp-s/--json; exit 2 with
    one line on bad input."""
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.episodes < 1:
        print(f"vla-lite {command}: --episodes must be >= 1, got {args.episodes}", file=sys.stderr)
        return 2
    try:
        summary = record(Path(args.out), tasks, range(args.seed, args.seed + args.episodes), noise=args.noise,
                         size_px=args.size, split=args.split,
                         views=[v.strip() for v in args.views.split(",") if v.strip()], progress=not args.json,
                         ramp_s=args.ramp_s)
    except (ValueError, ImportError) as exc:
        print(f"vla-lite {command}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=1) if args.json else
          f"recorded {summary['episodes']} episodes ({summary['steps']} steps) to {summary['out']}; "
          f"expert success {summary['successes']}/{summary['episodes']}")
    return 0
