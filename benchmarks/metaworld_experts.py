"""Meta-World's scripted experts on MT50 under the conditions demonstrations are recorded in.

Per task and condition, success over --episodes placements from seed 0 (the seeds the chain's demonstrations use):
- native: the expert's action straight into the env, as Meta-World runs it (the baseline);
- ramped: through the runtime's safety filter with its 0.3 s ramp-in (`vla-lite run`'s default), no noise;
- demos: as `vla-lite metaworld-demos` records (benchmarks/metaworld_chain.py): ramp-in plus DART noise 1 on the
  hand motion (vla_lite.worlds.metaworld.demos.drive, the recorder's own loop).
An episode is a success when Meta-World's info["success"] comes within 500 steps. Failed demonstrations are
dropped by the training reader (export/datasets/checks.py, drop_failed), so a task under 90 % gets fewer
demonstrations than asked for, not wrong ones. Mean steps of the successful episodes size the training set.

    python benchmarks/metaworld_experts.py [--episodes 20] [--tasks mt50] [--out benchmarks/results/metaworld_experts]

Writes OUT.json and OUT.png (success per task, by LeRobot's difficulty group).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from vla_lite.evaluate import wilson_interval
from vla_lite.worlds.metaworld import MetaWorldEnv, task_group, tasks_named
from vla_lite.worlds.metaworld.demos import drive, ee_delta_limits
from vla_lite.progress import progress_bar
from vla_lite.safety import DEFAULT_RAMP_S, SafetyFilter

CONDITIONS = {"native": (0.0, 0.0), "ramped": (DEFAULT_RAMP_S, 0.0), "demos": (DEFAULT_RAMP_S, 1.0)}  # ramp_s, noise
BAR = 0.9  # the bar: an expert below it is reported with what was done about it


def run_task(task: str, episodes: int, bar) -> dict:
    """Each condition's successes and steps on seeds 0 .. episodes-1 of one task."""
    out = {}
    with MetaWorldEnv(task, render=False) as env:
        for name, (ramp_s, noise) in CONDITIONS.items():
            safety = SafetyFilter(ee_delta_limits(env), env.period_s, ramp_s) if ramp_s > 0 else None
            ok, steps = 0, []
            for seed in range(episodes):
                obs = env.reset(seed)
                if safety is None:
                    while not obs["done"]:
                        obs = env.step(env.expert_ee_delta())
                else:
                    for _ in drive(env, obs, safety, noise):
                        pass
                ok += env.success
                if env.success:
                    steps.append(env.steps)
                if bar is not None:
                    bar.update(1)
            lo, hi = wilson_interval(ok, episodes)
            out[name] = {"successes": ok, "episodes": episodes, "success_rate": round(ok / episodes, 4),
                         "wilson95": [round(lo, 4), round(hi, 4)],
                         "mean_success_steps": round(float(np.mean(steps)), 1) if steps else None}
    return out


def totals(per_task: dict, tasks) -> dict:
    ok = {c: sum(per_task[t][c]["successes"] for t in tasks) for c in CONDITIONS}
    n = sum(per_task[t]["native"]["episodes"] for t in tasks)
    return {c: {"successes": ok[c], "episodes": n, "success_rate": round(ok[c] / n, 4),
                "wilson95": [round(v, 4) for v in wilson_interval(ok[c], n)]} for c in CONDITIONS}


def plot(report: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(report["tasks"], key=lambda t: (list(report["groups"]).index(task_group(t)), t))
    x = np.arange(len(tasks))
    fig, ax = plt.subplots(figsize=(18, 5.5))
    for k, cond in enumerate(CONDITIONS):
        ax.bar(x + (k - 1) * 0.27, [100 * report["tasks"][t][cond]["success_rate"] for t in tasks], 0.27,
               label=f"{cond}: {100 * report['all'][cond]['success_rate']:.1f} %")
    ax.axhline(100 * BAR, color="k", ls="--", lw=0.8)
    edges = np.cumsum([sum(task_group(t) == g for t in tasks) for g in report["groups"]])
    for g, end, start in zip(report["groups"], edges, np.r_[0, edges[:-1]]):
        ax.axvline(end - 0.5, color="grey", lw=0.6)
        ax.text((start + end - 1) / 2, 103, g.replace("_", " "), ha="center")
    ax.set_xticks(x, [t.removesuffix("-v3") for t in tasks], rotation=90, fontsize=8)
    ax.set_ylim(0, 108)
    ax.set_xlim(-0.6, len(tasks) - 0.4)
    ax.set_ylabel("success, %")
    ax.set_title(f"Meta-World scripted experts, {report['episodes_per_task']} placements per task (seeds from 0)")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=20, help="placements per task and condition (seeds from 0)")
    ap.add_argument("--tasks", default="mt50", help="mt50, mt10, mt50-GROUP or a comma list of tasks")
    ap.add_argument("--out", default="benchmarks/results/metaworld_experts", help="writes OUT.json and OUT.png")
    args = ap.parse_args(argv)
    if args.episodes < 1:
        ap.error(f"--episodes must be >= 1, got {args.episodes}")
    from vla_lite.worlds.metaworld.tasks import MT50_GROUPS
    from vla_lite.report import write_json

    tasks = tasks_named(args.tasks)
    bar = progress_bar(len(tasks) * len(CONDITIONS) * args.episodes, unit="ep")
    t0 = time.perf_counter()
    per_task = {}
    for task in tasks:
        if bar is not None:
            bar.set_description(task)
        per_task[task] = run_task(task, args.episodes, bar)
    if bar is not None:
        bar.close()
    groups = {g: [t for t in ts if t in per_task] for g, ts in MT50_GROUPS.items()}
    report = {"benchmark": "metaworld_experts", "episodes_per_task": args.episodes, "seeds": [0, args.episodes - 1],
              "conditions": {c: {"ramp_s": r, "noise": n} for c, (r, n) in CONDITIONS.items()},
              "groups": {g: totals(per_task, ts) for g, ts in groups.items() if ts},
              "all": totals(per_task, tasks), "tasks": per_task,
              "below_bar": {t: v["demos"]["success_rate"] for t, v in per_task.items()
                            if v["demos"]["success_rate"] < BAR},
              "seconds": round(time.perf_counter() - t0, 1),
              "command": "python benchmarks/metaworld_experts.py " + " ".join(argv or sys.argv[1:])}
    write_json(args.out + ".json", report)
    plot(report, args.out + ".png")
    for c in CONDITIONS:
        a = report["all"][c]
        print(f"{c:>6}: {a['successes']}/{a['episodes']} = {100 * a['success_rate']:.1f} %  " + ", ".join(
            f"{g} {100 * v[c]['success_rate']:.1f}" for g, v in report["groups"].items()))
    for t, v in per_task.items():
        if min(v[c]["success_rate"] for c in CONDITIONS) < BAR:
            print(f"  {t:<30} " + "  ".join(f"{c} {v[c]['successes']}/{v[c]['episodes']}" for c in CONDITIONS))
    print(f"wrote {args.out}.json and {args.out}.png in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
