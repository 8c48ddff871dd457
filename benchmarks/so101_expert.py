"""The SO-101 scripted expert's success over seeded episodes, per task, with its episode lengths and costs.

Episode k uses layout seed SEED + k and task k mod 12 (every colour x place in turn), phrased from the train
split; 30 Hz, at most 300 steps (10 s). Success is the world's: the cube rests at its place, released.
Also timed: the expert's action (IK + state machine) and one world step (16 physics steps), ms, on one thread.

    python benchmarks/so101_expert.py [--episodes 100] [--seed 0] [--out benchmarks/results/so101_expert]

Writes OUT.json (per task and per episode) and OUT.png (per-task success with Wilson 95 % intervals).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import platform
import time
from collections import Counter

import numpy as np

from vla_lite.evaluate import wilson_interval
from vla_lite.worlds.so101.expert import ScriptedExpert
from vla_lite.worlds.so101.instructions import all_tasks
from vla_lite.worlds.so101.world import SO101World


def run(episodes: int, seed0: int) -> tuple[list[dict], dict]:
    from tqdm import tqdm

    world = SO101World()
    expert = ScriptedExpert(world)
    tasks = all_tasks(world.colours)
    rows, act_s, step_s = [], [], []
    for k in tqdm(range(episodes), desc="so101 expert", unit="ep"):
        ep = world.reset(seed0 + k, task=tasks[k % len(tasks)])
        phases: Counter = Counter()
        while not world.done:
            t0 = time.perf_counter()
            phases[expert.plan(world).phase.value] += 1
            action = expert.action()
            t1 = time.perf_counter()
            world.step(action)
            act_s.append(t1 - t0)
            step_s.append(time.perf_counter() - t1)
        rows.append({"seed": ep.seed, "task": f"{ep.task.colour} -> {ep.task.place.value}",
                     "instruction": ep.instruction, "outcome": world.outcome.value, "steps": world.steps,
                     "sim_s": round(world.t_s, 3), "phases": dict(phases)})
    timing = {"expert_action_ms_p50": 1000 * float(np.median(act_s)),
              "expert_action_ms_p99": 1000 * float(np.percentile(act_s, 99)),
              "world_step_ms_p50": 1000 * float(np.median(step_s)),
              "world_step_ms_p99": 1000 * float(np.percentile(step_s, 99))}
    return rows, timing


def summarise(rows: list[dict]) -> dict:
    per_task = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        mine = [r for r in rows if r["task"] == task]
        ok = sum(r["outcome"] == "success" for r in mine)
        per_task[task] = {"success": ok, "episodes": len(mine), "rate": ok / len(mine),
                          "wilson95": wilson_interval(ok, len(mine))}
    ok = sum(r["outcome"] == "success" for r in rows)
    won = [r["sim_s"] for r in rows if r["outcome"] == "success"]
    return {"success": ok, "episodes": len(rows), "rate": ok / len(rows), "wilson95": wilson_interval(ok, len(rows)),
            "sim_s_p50": float(np.median(won)) if won else None, "sim_s_max": max(won) if won else None,
            "per_task": per_task}


def plot(summary: dict, path: pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(summary["per_task"])
    rates = np.array([summary["per_task"][n]["rate"] for n in names]) * 100
    lo = np.array([summary["per_task"][n]["wilson95"][0] for n in names]) * 100
    hi = np.array([summary["per_task"][n]["wilson95"][1] for n in names]) * 100
    fig, ax = plt.subplots(figsize=(9, 3.8))
    err = np.clip([rates - lo, hi - rates], 0.0, None)  # rounding can leave -1e-14 at 0 % or 100 %
    ax.bar(range(len(names)), rates, yerr=err, capsize=3, color="#4a7bd0")
    ax.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success %")
    ax.set_title(f"SO-101 scripted expert: {summary['success']}/{summary['episodes']} "
                 f"({100 * summary['rate']:.1f} %), Wilson 95 % per task")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0, help="first layout seed")
    ap.add_argument("--out", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parent / "results" / "so101_expert")
    args = ap.parse_args()
    rows, timing = run(args.episodes, args.seed)
    summary = summarise(rows)
    for task, s in summary["per_task"].items():
        print(f"{task:20s} {s['success']:3d}/{s['episodes']:<3d}")
    print(f"expert: {summary['success']}/{summary['episodes']} = {100 * summary['rate']:.1f} % "
          f"(Wilson 95 % {100 * summary['wilson95'][0]:.1f}-{100 * summary['wilson95'][1]:.1f}), "
          f"successful episodes p50 {summary['sim_s_p50']} s sim, max {summary['sim_s_max']} s")
    print("timing: " + ", ".join(f"{k} {v:.3f}" for k, v in timing.items()))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out = {"episodes": args.episodes, "seed": args.seed, "rate_hz": SO101World.rate_hz, "python": platform.python_version(),
           **summary, "timing": timing, "rows": rows}
    args.out.with_suffix(".json").write_text(json.dumps(out, indent=1) + "\n")
    plot(summary, args.out.with_suffix(".png"))


if __name__ == "__main__":
    main()
