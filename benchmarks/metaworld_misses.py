"""Where a Meta-World student's misses end: per episode, the closest the task's moving point came to its goal.

    python benchmarks/metaworld_misses.py runs/mw_polish/student.safetensors \
        --tasks reach-v3,push-v3,pick-place-v3,peg-insert-side-v3 --episodes 16 \
        --out benchmarks/results/metaworld_misses

The moving point is the one Meta-World's success measures: the gripper's centre for reach, the peg's head for
peg-insert-side, the object for the others. For each episode: the outcome, the closest approach (m) and the error
vector goal - point at that moment (m, world x y z), and how far the object moved at all (m; a push never touched
stays at 0). A miss whose object never moved is a grasp or contact failure; one whose closest approach is
centimetres off in one axis is where the policy believed the goal to be. The student runs in-process in PyTorch
(as in DAgger rollouts: the runtime's preprocessing, normalisation and chunk execution, no serial link or ramp-in);
seeds are those `vla-lite eval` uses for held-out placements (1000000 on). Writes OUT.json and OUT.png (goals and
closest approaches, top view).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from vla_lite.evaluate import EVAL_SEED_BASE
from vla_lite.worlds.metaworld.misses import run_task, summary


def print_episode(r: dict) -> None:
    print(f"{r['task']:22s} seed {r['seed']}: {r['outcome']:8s} closest {r['closest_m'] * 100:5.1f} cm, error "
          f"{np.round(np.array(r['error_xyz_m']) * 100, 1)} cm, object moved {r['object_moved_m'] * 100:.1f} cm",
          flush=True)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(r["task"] for r in rows))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for r in (r for r in rows if r["task"] == task):
            g, c = np.array(r["goal_xyz_m"]) * 100, np.array(r["closest_xyz_m"]) * 100
            ok = r["outcome"] == "success"
            ax.plot([g[0], c[0]], [g[1], c[1]], color="tab:green" if ok else "tab:red", lw=1)
            ax.plot(*g[:2], "o", color="tab:green" if ok else "tab:red", ms=4)
        ax.set_title(task)
        ax.set_xlabel("x, cm")
        ax.set_ylabel("y, cm")
        ax.set_aspect("equal")
    fig.suptitle("goal (dot) to the closest approach (line end), top view; green: success, red: miss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("student", help="a student checkpoint (.safetensors) from vla-lite distill")
    ap.add_argument("--tasks", default="reach-v3,push-v3,pick-place-v3,peg-insert-side-v3")
    ap.add_argument("--episodes", type=int, default=16, help="per task")
    ap.add_argument("--seed", type=int, default=EVAL_SEED_BASE)
    ap.add_argument("--out", default="benchmarks/results/metaworld_misses", help="writes OUT.json and OUT.png")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error(f"--episodes must be >= 1, got {args.episodes}")
    from vla_lite.export.checkpoint import load_checkpoint
    from vla_lite.export.rollout import TorchPolicyRunner
    from vla_lite.export.text_cache import training_text_encoder

    ck = load_checkpoint(args.student)
    runner = TorchPolicyRunner(ck.model, ck.cameras, ck.normalization, training_text_encoder().encode,
                               ck.train["replan_every"])
    views = tuple(c.name for c in ck.cameras)
    rows = [r for task in args.tasks.split(",")
            for r in run_task(runner, task, args.episodes, args.seed, ck.cameras[0].height, views, print_episode)]
    result = {"student": args.student, "seeds": [args.seed, args.seed + args.episodes - 1], "summary": summary(rows),
              "episodes": rows, "command": "python benchmarks/metaworld_misses.py " + " ".join(
                  argv if argv is not None else sys.argv[1:])}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    plot(rows, out.with_suffix(".png"))
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
