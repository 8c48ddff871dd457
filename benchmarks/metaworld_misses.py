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


def moving_point(env, task: str, obs39: np.ndarray) -> np.ndarray:
    """The world point (3,) whose distance to the goal Meta-World's success measures for `task`."""
    if task.startswith("reach"):
        return np.asarray(env.tcp_center, np.float64)  # the fingertips' midpoint, ~5 cm below the hand body
    if task.startswith("peg-insert"):
        return np.asarray(env._get_site_pos("pegHead"), np.float64)  # the peg's tip (the observation has its grip)
    return obs39[4:7]


def run_task(runner, task: str, episodes: int, seed0: int, size_px: int, views: tuple[str, ...]) -> list[dict]:
    from vla_lite.worlds.metaworld.env import MetaWorldEnv

    rows = []
    with MetaWorldEnv(task, size_px=size_px, views=views) as env:
        for k in range(episodes):
            obs = env.reset(seed0 + k)
            scene = env.controller.scene
            start_obj = obs["obs39"][4:7].copy()
            best, moved = (np.inf, None, None), 0.0
            while not obs["done"]:
                obs = env.step(runner(obs, env))
                o = obs["obs39"]
                point = moving_point(scene.env, task, o)
                gap = o[36:39] - point
                dist = float(np.linalg.norm(gap))
                if dist < best[0]:
                    best = (dist, gap, point.copy())
                moved = max(moved, float(np.linalg.norm(o[4:7] - start_obj)))
            rows.append({"task": task, "seed": seed0 + k, "outcome": env.outcome, "steps": env.steps,
                         "closest_m": round(best[0], 4), "error_xyz_m": np.round(best[1], 4).tolist(),
                         "goal_xyz_m": np.round(obs["obs39"][36:39], 4).tolist(),
                         "closest_xyz_m": np.round(best[2], 4).tolist(), "object_moved_m": round(moved, 4)})
            print(f"{task:22s} seed {seed0 + k}: {env.outcome:8s} closest {best[0] * 100:5.1f} cm, error "
                  f"{np.round(best[1] * 100, 1)} cm, object moved {moved * 100:.1f} cm", flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        miss = [r for r in mine if r["outcome"] != "success"]
        err = np.abs(np.array([r["error_xyz_m"] for r in miss])) if miss else np.zeros((0, 3))
        out[task] = {"episodes": len(mine), "successes": len(mine) - len(miss),
                     "misses_object_still": sum(r["object_moved_m"] < 0.01 for r in miss) if not task.startswith("reach")
                     else None,  # reach has no object to move
                     "misses_median_closest_m": float(np.median([r["closest_m"] for r in miss])) if miss else None,
                     "misses_median_abs_error_xyz_m": np.round(np.median(err, 0), 4).tolist() if miss else None}
    return out


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
            for r in run_task(runner, task, args.episodes, args.seed, ck.cameras[0].height, views)]
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
